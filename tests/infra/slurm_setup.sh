#!/usr/bin/env bash
# A throwaway Slurm cluster on this machine for the Slurm tests: munged, slurmctld and one slurmd
# (node = `hostname -s`, partition `debug`, every core), all state under $DIR. Idempotent: a
# cluster already running from the same $DIR is reused. Needs root and Debian's slurm-wlm and
# munge (scripts/bootstrap.sh installs them; installed here too when missing). Prints
# shell-sourceable lines: export SLURM_CONF=..., export SLURM_PARTITION=debug.
#   eval "$(DIR=/tmp/trainyard-slurm bash tests/infra/slurm_setup.sh)"
set -euo pipefail
DIR=${DIR:-/tmp/trainyard-slurm}
say() { echo "slurm_setup: $*" >&2; }
# libpmix-dev: the libpmix.so Slurm's PMIx plugin loads (srun --mpi=pmix for MPI jobs); slurmd
# must start after it is there.
if ! command -v slurmctld >/dev/null 2>&1 || ! dpkg-query -W -f='${Status}' libpmix-dev 2>/dev/null | grep -q "ok installed"; then
  say "installing slurm-wlm, munge and libpmix-dev"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge libpmix-dev >&2
fi
[ "$(id -u)" = 0 ] || { say "needs root (slurmd runs jobs as their users)"; exit 1; }
mkdir -p "$DIR"/{state,spool,log} /run/munge
HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 1024 ))
CONF="$DIR/slurm.conf"
# KillWait=2: a cancelled or timed-out job gets TERM, then KILL 2 s later (Slurm's default is 30 s).
cat > "$CONF.new" <<CONF
ClusterName=trainyard-test
SlurmctldHost=$HOST(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
AccountingStorageType=accounting_storage/none
MinJobAge=600
KillWait=2
SchedulerType=sched/backfill
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
mv "$CONF.new" "$CONF"
export SLURM_CONF="$CONF"
if ! pgrep -x munged >/dev/null; then
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    head -c 1024 /dev/urandom > /etc/munge/munge.key
  fi
  chown -R root:root /etc/munge /run/munge 2>/dev/null || true
  chmod 600 /etc/munge/munge.key
  munged --force -S /run/munge/munge.socket.2 2>/dev/null || munged --force
fi
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
alive "$DIR/slurmctld.pid" || slurmctld -f "$CONF"
alive "$DIR/slurmd.pid" || slurmd -f "$CONF"
for _ in $(seq 150); do
  state=$(sinfo -h -o %t 2>/dev/null || true)
  case "$state" in idle*|mix*|alloc*) break ;; esac
  sleep 0.2
done
case "$(sinfo -h -o %t 2>/dev/null || true)" in
  idle*|mix*|alloc*) ;;
  *) say "the node did not come up: sinfo says '$(sinfo -h -o '%t %E' 2>&1 || true)'"
     tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
     exit 1 ;;
esac
echo "export SLURM_CONF=$CONF"
echo "export SLURM_PARTITION=debug"
