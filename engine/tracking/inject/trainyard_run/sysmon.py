"""The system-metrics sampler of a run on another host (an SSH target), run there as a script:

    python3 sysmon.py ROOT_PID INTERVAL OUT_FILE [NVIDIA_SMI_ARG...]

Every INTERVAL seconds it appends one JSON line to OUT_FILE: the CPU, resident memory and disk
I/O of ROOT_PID's process tree (itself left out), the host's network I/O since it started, and the
raw output of ``nvidia-smi NVIDIA_SMI_ARG...`` (the engine parses it: engine.compute.gpus). Each
line is one write(2) to a file opened for appending, so a reader never sees half a line unless
it is still being written. It stops when ROOT_PID has ended. Standard library only: it reads
/proc (Linux), since the host may have no psutil.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import time

MIB = 1024 * 1024


def parse_stat(text: str) -> "tuple[int, int, int]":
    """(parent pid, CPU ticks used (user + system), start time) from a /proc/PID/stat line. The
    command name in parentheses may hold spaces and parentheses: the fields follow the last ')'."""
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state) of proc(5): ppid is 4, utime 14, stime 15, starttime 22
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[19])


def parse_status_rss(text: str) -> int:
    """Resident memory in bytes from /proc/PID/status (VmRSS, in kB); 0 for a zombie (none)."""
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def parse_io(text: str) -> "tuple[int, int]":
    """(read_bytes, write_bytes) from /proc/PID/io."""
    values = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return int(values.get("read_bytes", 0)), int(values.get("write_bytes", 0))


def parse_net_dev(text: str) -> "tuple[int, int]":
    """(bytes sent, bytes received) of all interfaces from /proc/net/dev."""
    sent = received = 0
    for line in text.splitlines()[2:]:
        if ":" not in line:
            continue
        fields = line.split(":", 1)[1].split()
        received += int(fields[0])
        sent += int(fields[8])
    return sent, received


class ProcSampler:
    """Samples the tree of `root` as /proc (or a folder laid out like it: tests) shows it."""

    def __init__(self, root: int, proc: str = "/proc", exclude: "int | None" = None, hz: "float | None" = None) -> None:
        self.root = root
        self.more_roots = []  # type: list[int]  # trees that are not the root's children: a container's
        self.proc = proc
        self.exclude = exclude  # this sampler's own process (and what it starts: nvidia-smi)
        self.hz = hz or float(os.sysconf("SC_CLK_TCK"))
        self.ticks = {}  # type: dict[tuple[int, int], int]  # (pid, start time) -> ticks at the last sample
        self.io_seen = {}  # type: dict[tuple[int, int], tuple[int, int]]
        self.io_done = (0, 0)  # the I/O of processes of the tree that ended
        self.last = None  # type: float | None
        self.net_start = self._net()

    def _read(self, *parts: object) -> str:
        with open(os.path.join(self.proc, *map(str, parts))) as f:
            return f.read()

    def _net(self) -> "tuple[int, int] | None":
        try:
            return parse_net_dev(self._read("net", "dev"))
        except (OSError, ValueError, IndexError):
            return None

    def alive(self) -> bool:
        """Whether any of the trees is still there (the processes of a node end at about once)."""
        return any(os.path.exists(os.path.join(self.proc, str(p))) for p in (self.root, *self.more_roots))

    def tree(self) -> "dict[int, tuple[int, int, int]]":
        """pid -> its stat fields, for the root and its descendants."""
        stats = {}  # type: dict[int, tuple[int, int, int]]
        for name in os.listdir(self.proc):
            if name.isdigit():
                try:
                    stats[int(name)] = parse_stat(self._read(name, "stat"))
                except (OSError, ValueError, IndexError):
                    continue  # ended while listed
        children = {}  # type: dict[int, list[int]]
        for pid, (ppid, _t, _s) in stats.items():
            children.setdefault(ppid, []).append(pid)
        found = {}  # type: dict[int, tuple[int, int, int]]
        todo = [pid for pid in (self.root, *self.more_roots) if pid in stats]
        while todo:
            pid = todo.pop()
            if pid == self.exclude:
                continue
            found[pid] = stats[pid]
            todo.extend(children.get(pid, ()))
        return found

    def sample(self, now: "float | None" = None) -> "dict[str, float]":
        """The values since the last sample (the first one only primes the CPU counters)."""
        now = time.monotonic() if now is None else now
        ticks = {}  # type: dict[tuple[int, int], int]
        rss = 0
        for pid, (_ppid, used, start) in self.tree().items():
            key = (pid, start)
            ticks[key] = used
            try:
                rss += parse_status_rss(self._read(pid, "status"))
                self.io_seen[key] = parse_io(self._read(pid, "io"))
            except (OSError, ValueError, IndexError):
                continue
        for key in [k for k in self.io_seen if k not in ticks]:  # ended: its I/O still counts
            read, written = self.io_seen.pop(key)
            self.io_done = (self.io_done[0] + read, self.io_done[1] + written)
        out = {}  # type: dict[str, float]
        if self.last is not None and now > self.last:
            # A process new since the last sample counts from 0: it started within the interval.
            used_ticks = sum(t - self.ticks.get(k, 0) for k, t in ticks.items())
            out["cpu_percent"] = max(0.0, 100.0 * used_ticks / self.hz / (now - self.last))
        out["memory_rss_mib"] = rss / MIB
        out["disk_read_mib"] = (self.io_done[0] + sum(v[0] for v in self.io_seen.values())) / MIB
        out["disk_write_mib"] = (self.io_done[1] + sum(v[1] for v in self.io_seen.values())) / MIB
        net = self._net()
        if net is not None and self.net_start is not None:
            out["network_sent_mib"] = (net[0] - self.net_start[0]) / MIB
            out["network_recv_mib"] = (net[1] - self.net_start[1]) / MIB
        self.ticks, self.last = ticks, now
        return out


def _output(argv: "list[str]", timeout: float) -> "str | None":
    """What `argv` printed, None when it could not run or failed."""
    try:
        # universal_newlines, not text=: the host's Python may be 3.6
        res = subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            universal_newlines=True,  # noqa: UP021
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout if res.returncode == 0 else None


def nvidia_smi(args: "list[str]") -> "str | None":
    """nvidia-smi's output, None where there is none to ask (no tool, no driver, no answer)."""
    exe = shutil.which("nvidia-smi") if args else None
    return None if exe is None else _output([exe, *args], 5)


def container_pid(name: str) -> "int | None":
    """The host pid of container `name`'s first process; None until it runs (or with no docker)."""
    text = (_output(["docker", "inspect", "-f", "{{.State.Pid}}", name], 10) or "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def pids_from(patterns: "list[str]", seen: "set[str]") -> "list[int]":
    """The pids written in the files matching `patterns` (glob) that are not in `seen` yet (added
    to it); a file still empty (being written) is read again next time."""
    found = []  # type: list[int]
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            if path in seen:
                continue
            try:
                with open(path) as f:
                    text = f.read().strip()
            except OSError:
                continue
            if text.isdigit():
                seen.add(path)
                found.append(int(text))
    return found


def main(argv: "list[str]") -> int:
    """sysmon.py [--container=NAME]... [--visible-gpus=CSV] [--roots-from=GLOB]... ROOT_PID INTERVAL
    OUT [NVIDIA_SMI_ARGS...]

    --container (repeatable): the run is `docker run` in ROOT_PID's tree; its processes are the
    container's, whose first process is not ROOT_PID's descendant: sample that tree too (and
    the node's other containers', for a distributed run). --visible-gpus: the
    host GPUs the run sees (a container's are its device request, not this CUDA_VISIBLE_DEVICES).
    --roots-from: files (a glob) each holding the pid of another tree to sample, written when
    that process starts: the other processes of a distributed run's node, which are not children
    of ROOT_PID either."""
    containers, visible = [], os.environ.get("CUDA_VISIBLE_DEVICES")  # type: list[str], str | None
    roots_from, roots_seen = [], set()  # type: list[str], set[str]
    while argv and argv[0].startswith(("--container=", "--visible-gpus=", "--roots-from=")):
        key, _, value = argv.pop(0).partition("=")
        if key == "--container":
            containers.append(value)
        elif key == "--roots-from":
            roots_from.append(value)
        else:
            visible = value
    root, interval, out, smi_args = int(argv[0]), float(argv[1]), argv[2], argv[3:]
    sampler = ProcSampler(root, exclude=os.getpid())
    sampler.sample()
    step = 0
    while True:
        time.sleep(interval)
        if not sampler.alive():
            return 0
        for name in list(containers):  # each once it runs
            pid = container_pid(name)
            if pid is not None:
                sampler.more_roots.append(pid)
                containers.remove(name)
        sampler.more_roots.extend(p for p in pids_from(roots_from, roots_seen) if p != root)
        record = {"step": step, "time": time.time(), "values": sampler.sample()}  # type: dict[str, object]
        if smi_args:
            smi = nvidia_smi(smi_args)
            if smi is None:
                smi_args = []  # no GPUs here: do not ask every few seconds
            else:
                record["nvidia_smi"] = smi
                record["cuda_visible_devices"] = visible
        fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(record) + "\n").encode())
        finally:
            os.close(fd)
        step += 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
