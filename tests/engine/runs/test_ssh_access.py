"""Logging in to SSH targets the ways ~/.ssh/config and OpenSSH users do, against a real throwaway
sshd (tests/engine/runs/sshd.py): keys from a running ssh-agent, a passphrase-protected key (asked
for, never stored), and a ProxyCommand (the real OpenSSH client's `ssh -W`) as the connection."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sshd import Sshd, start_sshd

from engine.compute.ssh import SshTarget
from engine.compute.ssh.access import SecretNeeded, parse_hop, route_of
from engine.compute.sshprobe import accept_host_key, host_key, probe_host
from engine.errors import LaunchFailed


@pytest.fixture
def sshd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sshd]:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


def _whoami(target: SshTarget) -> str:
    client = target.connect()
    try:
        _in, out, _err = client.exec_command("echo logged-in-as-$(id -un)")
        return str(out.read().decode().strip())
    finally:
        client.close()


def test_the_ssh_agents_keys_log_in(sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A key with a passphrase, loaded into a real ssh-agent: no key file named, nothing asked.
    key = tmp_path / "agent_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "s3cret", "-f", str(key)], check=True)
    (sshd.dir / "authorized_keys").write_text((tmp_path / "agent_key.pub").read_text())
    out = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True).stdout
    env = dict(line.split(";")[0].split("=", 1) for line in out.splitlines() if "=" in line.split(";")[0])
    try:
        monkeypatch.setenv("SSH_AUTH_SOCK", env["SSH_AUTH_SOCK"])
        target = SshTarget.from_config(
            "far",
            {"host": sshd.host, "port": sshd.port, "user": sshd.user, "known_hosts": str(sshd.known_hosts)},
        )
        with pytest.raises(LaunchFailed):  # the agent is empty yet
            _whoami(target)
        subprocess.run(
            ["ssh-add", str(key)],
            input="s3cret\n",
            env={**os.environ, "SSH_ASKPASS_REQUIRE": "never"},
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if "agent_key" not in subprocess.run(["ssh-add", "-l"], capture_output=True, text=True).stdout:
            # ssh-add reads a passphrase from a terminal only: load an unencrypted copy instead.
            plain = tmp_path / "agent_plain"
            shutil.copy(key, plain)
            plain.chmod(0o600)
            subprocess.run(["ssh-keygen", "-q", "-p", "-P", "s3cret", "-N", "", "-f", str(plain)], check=True)
            subprocess.run(["ssh-add", str(plain)], capture_output=True, check=True, timeout=30)
        assert _whoami(target) == f"logged-in-as-{sshd.user}"
    finally:
        os.kill(int(env["SSH_AGENT_PID"]), 15)


def test_a_protected_key_asks_for_its_passphrase(sshd: Sshd, tmp_path: Path) -> None:
    key = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "open sesame", "-f", str(key)], check=True)
    (sshd.dir / "authorized_keys").write_text((tmp_path / "locked.pub").read_text())
    target = SshTarget.from_config(
        "far",
        {
            "host": sshd.host,
            "port": sshd.port,
            "user": sshd.user,
            "key_file": str(key),
            "known_hosts": str(sshd.known_hosts),
        },
    )
    with pytest.raises(SecretNeeded) as info:
        probe_host(target)
    assert info.value.secret == "passphrase"
    assert info.value.message == f"the SSH key {key} for {target.address} is protected by a passphrase"
    assert "ssh-add" in info.value.hint
    report = probe_host(target, passphrase="open sesame")
    assert report.python.startswith("Python 3.") and report.address == target.address
    # The passphrase went nowhere: not into a file of this test's home or the key's folder.
    for folder in (tmp_path, Path.home()):
        for path in folder.rglob("*"):
            if path.is_file() and path.stat().st_size < 1_000_000:
                assert b"open sesame" not in path.read_bytes(), path


def test_a_wrong_key_asks_for_a_password(sshd: Sshd, tmp_path: Path) -> None:
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    target = SshTarget.from_config(
        "far",
        {
            "host": sshd.host,
            "port": sshd.port,
            "user": sshd.user,
            "key_file": str(other),
            "known_hosts": str(sshd.known_hosts),
        },
    )
    with pytest.raises(SecretNeeded) as info:
        target.connect()
    assert info.value.secret == "password" and info.value.message.startswith(
        f"SSH login to {target.address} failed"
    )
    with pytest.raises(LaunchFailed) as again:  # this sshd takes no passwords at all
        target.connect(password="not it")
    assert not isinstance(again.value, SecretNeeded)


def test_a_proxycommand_from_ssh_config_is_the_connection(sshd: Sshd, tmp_path: Path) -> None:
    log = tmp_path / "proxy.log"
    # The real OpenSSH client as the proxy: it logs in to the sshd and forwards to %h:%p from there.
    (Path.home() / ".ssh" / "config").write_text(f"""\
Host via-proxy
    HostName {sshd.host}
    Port {sshd.port}
    User {sshd.user}
    IdentityFile {sshd.key}
    ProxyCommand sh -c 'echo "proxy to %h:%p" >> {log}; exec ssh -q -i {sshd.key} -p {sshd.port} \
-o UserKnownHostsFile={sshd.known_hosts} -o StrictHostKeyChecking=yes -o BatchMode=yes \
-W %h:%p {sshd.user}@{sshd.host}'
""")
    target = SshTarget.from_config("far", {"host": "via-proxy", "known_hosts": str(sshd.known_hosts)})
    assert target.proxy_command and target.proxy_jump is None
    assert _whoami(target) == f"logged-in-as-{sshd.user}"
    assert log.read_text() == f"proxy to {sshd.host}:{sshd.port}\n"


def test_host_key_on_first_use_then_known(sshd: Sshd, tmp_path: Path) -> None:
    known = tmp_path / "fresh_known_hosts"
    known.touch()
    target = SshTarget.from_config(
        "far",
        {
            "host": sshd.host,
            "port": sshd.port,
            "user": sshd.user,
            "key_file": str(sshd.key),
            "known_hosts": str(known),
        },
    )
    key = host_key(target)
    expected = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(sshd.dir / "host_ed25519.pub")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    assert (key.key_type, key.fingerprint, key.known, key.changed) == ("ssh-ed25519", expected, False, False)
    with pytest.raises(LaunchFailed, match="is unknown"):
        target.connect()
    assert accept_host_key(target, key) == str(known)
    assert host_key(target).known
    assert _whoami(target) == f"logged-in-as-{sshd.user}"
    # Another key for the same host is a change, never accepted silently.
    known.write_text(
        f"[{sshd.host}]:{sshd.port} ssh-ed25519 "
        f"{(tmp_path / 'sshd' / 'client_ed25519.pub').read_text().split()[1]}\n"
    )
    changed = host_key(target)
    assert changed.changed and not changed.known


def test_route_settings_are_read_like_openssh() -> None:
    assert route_of({"proxyjump": "a,b"}) == ("a,b", None)
    assert route_of({"proxycommand": "none", "proxyjump": "none"}) == (None, None)
    assert route_of({"proxycommand": ["nc", "%h", "%p"]}) == (None, "nc %h %p")
    assert parse_hop("ml@gate.example.org:2200") == ("ml", "gate.example.org", 2200)
    assert parse_hop("ssh://gate") == (None, "gate", None)
    with pytest.raises(LaunchFailed, match="not \\[user@\\]host\\[:port\\]"):
        parse_hop("two words")
