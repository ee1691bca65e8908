#!/usr/bin/env bash
# CI: start a real one-node SLURM cluster on this machine (munged, slurmctld,
# slurmd; recipe: Debian 12, SLURM 22.05), run the SLURM test against it, stop it.
#
#   .ci/slurm.sh                 # pytest tests/test_slurm.py in ./.venv (made by ./quickstart test)
#   .ci/slurm.sh CMD [ARGS...]   # any command instead, with the cluster up (e.g. for benchmarks)
#
# Needs root. Outside a scratch folder it installs the Debian packages (if `sinfo`
# is missing), makes /run/munge and writes /etc/slurm/slurm.conf (a file already
# there is put back on exit). Daemons this script started are stopped by pid.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v sinfo >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    # No daemon started by the packages' scripts: this script starts (and stops) its own.
    NO_START=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        NO_START=/usr/sbin/policy-rc.d
    fi
    rc=0
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge; } || rc=$?
    [ -z "$NO_START" ] || rm -f "$NO_START"
    [ "$rc" -eq 0 ] || exit "$rc"
fi

D=$(mktemp -d /tmp/mirical-slurm.XXXXXX)
mkdir -p "$D/state/ctld" "$D/state/d" "$D/run" "$D/log"
# The config must be at the default path: SLURM_CONF would not reach the `srun` inside
# each job (the executor plugin's job step drops all SLURM_* variables).
CONF=/etc/slurm/slurm.conf
[ -e "$CONF" ] && cp -p "$CONF" "$D/slurm.conf.orig"
MUNGED_PID=""  # set if this script started munged

stop() {
    rc=$?
    set +e
    if [ "$rc" -ne 0 ]; then
        for f in "$D"/log/*.log; do [ -e "$f" ] && { echo "--- tail of $f"; tail -n 20 "$f"; }; done
    fi
    # Our daemons: slurmctld/slurmd wrote their pid files into our scratch folder.
    pids=$(cat "$D"/run/*.pid 2>/dev/null) || true
    for pid in $pids $MUNGED_PID; do kill "$pid" 2>/dev/null; done
    for pid in $pids $MUNGED_PID; do   # wait (at most ~10 s each) so that a next run starts clean
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    done
    if [ -e "$D/slurm.conf.orig" ]; then cp -p "$D/slurm.conf.orig" "$CONF"; else rm -f "$CONF"; fi
    rm -rf "$D"
    exit "$rc"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_for() {  # wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.5 s
    local n=$(($1 * 2)) what=$2; shift 2
    for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
    echo "slurm.sh: timed out waiting for $what" >&2
    return 1
}

# munge: reuse a running munged, else start one (the package made the key).
if ! munge -n >/dev/null 2>&1; then
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey -c -f -k /etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge && chown munge:munge /run/munge
    runuser -u munge -- /usr/sbin/munged --force   # --force: ignore a stale socket of a dead munged
    MUNGED_PID=$(cat /run/munge/munged.pid)
    wait_for 10 munged munge -n
fi

H=$(hostname -s)
# Memory SLURM may hand out: 90% of the RAM, but at least 8 GB so that every rule's mem_mb
# (up to 4 GB) can be placed on a small CI machine (the jobs really use far less: bench/run.sh's
# per-rule table); SlurmdParameters=config_overrides lets slurmd accept a RealMemory above
# the RAM instead of draining the node.
MEM=$(free -m | awk '/^Mem:/ {m = int($2 * 0.9); print (m < 8192 ? 8192 : m)}')
mkdir -p "$(dirname "$CONF")"
cat >"$CONF" <<EOF
ClusterName=ci
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$D/state/ctld
SlurmdSpoolDir=$D/state/d
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# No accounting: sacct does not work here, hence slurm-status-command: squeue in
# profiles/slurm, which needs finished jobs to stay visible to squeue for MinJobAge seconds
# (the plugin polls at most every 180 s); an hour, so tests can still ask scontrol about them.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
SlurmdParameters=config_overrides
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=3600
NodeName=$H NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
EOF

slurmctld   # both daemonize and write their pid files into $D/run (stop() reads them)
slurmd
wait_for 10 "the pid files" test -s "$D/run/slurmctld.pid" -a -s "$D/run/slurmd.pid"
node_idle() { [ "$(sinfo -h -o %T)" = idle ]; }
wait_for 30 "the node to be idle" node_idle
sinfo

if [ $# -eq 0 ]; then
    [ -x .venv/bin/python ] || { echo "slurm.sh: no .venv; run ./quickstart test first" >&2; exit 1; }
    # The executor plugin (pyproject's `slurm` extra) is only needed here, so it is
    # installed here, into the venv that ./quickstart made.
    slurm_extra=$(.venv/bin/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["slurm"])')
    .venv/bin/python -m pip install -q $slurm_extra
    set -- env MIRICAL_SLURM=1 .venv/bin/python -m pytest -v tests/test_slurm.py
fi
"$@"
