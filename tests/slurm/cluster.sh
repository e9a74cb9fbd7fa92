# shellcheck shell=bash
# tests/slurm/cluster.sh: a one-node Slurm cluster for the tests, made of
# Debian's own packages (munge, slurmctld, slurmd, slurm-client) and started
# by the test itself, as root, with no systemd and nothing under /etc or
# /run touched. Sourced, not run (bash).
#
#   cluster_up DIR      start munged, slurmctld and slurmd; every file they
#                       use lives under DIR (created, must not exist)
#   cluster_down        cancel what is left of the jobs, stop the daemons,
#                       kill anything they left behind; safe to call twice,
#                       and from an EXIT trap whatever state cluster_up
#                       reached
#
# After cluster_up, SLURM_CONF names the generated slurm.conf, so sbatch,
# squeue and scontrol (and the jobs, which inherit it) talk to this cluster
# and not to whatever /etc/slurm says; cluster_up also unsets the SLURM_*
# and SBATCH_* (...) variables of any outer Slurm, such as a CI job's. cluster_fail MESSAGE reports why the
# cluster could not start, with the daemons' logs.
#
# What the configuration is, and why (docs/hpc.md, "How this is tested"):
# - munged runs as the munge user (it refuses root) with key, socket, log,
#   pid and seed files under DIR/munge; AuthInfo=socket=... points the Slurm
#   side at that socket instead of /run/munge.
# - cred_expire=10 (in AuthInfo): Slurm holds a requeued job for the
#   credential lifetime, 120 s by default, before it may start again
#   (EligibleTime in scontrol show job); the requeue test would wait for it.
#   A job that becomes eligible by the clock waits for the next scheduling
#   pass, every 60 s (30 s for backfill) by default: 2 s here.
# - SlurmUser=root: no slurm account is needed, and both daemons run as the
#   user that started them.
# - The node line is `slurmd -C`'s (the real CPUs and memory) with
#   NodeAddr=127.0.0.1: the cluster never leaves the loopback interface.
# - proctrack/linuxproc and task/none need no cgroup hierarchy, which a
#   container or a VM without systemd does not give; no accounting (sacct
#   does not work: read jobs with `scontrol show job`), and a large
#   MinJobAge keeps finished jobs visible to scontrol.
# - OverSubscribe=FORCE:2 on the partition: two jobs may share each CPU, so
#   two 2-task jobs run side by side on a 2-core machine. The test's jobs
#   mostly wait for Slurm's clock, not for a CPU.
# - Ports: two free ones picked at random, so two test runs (or a real
#   Slurm on the default ports) do not meet.
# - Every daemon is started with KILN_SLURM_TEST_DIR=DIR in its
#   environment, and slurmstepd inherits it; jobs get their environment
#   from sbatch, so submit with `KILN_SLURM_TEST_DIR=$cluster_dir sbatch`
#   (or kiln-submit) and their processes carry it too. cluster_down then
#   finds exactly the processes this cluster started, and nothing else.

cluster_dir=
cluster_pids=()

cluster_log() { printf 'slurm cluster: %s\n' "$*" >&2; }

# cluster_fail MESSAGE: why the cluster is not usable, with the daemons'
# last log lines; returns 1.
cluster_fail() {
    local f
    printf 'slurm cluster: cannot start: %s\n' "$*" >&2
    for f in "$cluster_dir"/log/*.log; do
        [ -s "$f" ] || continue
        printf -- '--- last lines of %s\n' "$f" >&2
        tail -n 15 "$f" >&2
    done
    return 1
}

# A TCP port nothing listens on, between 20000 and 59999.
free_port() {
    local port _
    for _ in $(seq 50); do
        port=$((20000 + RANDOM % 40000))
        if ! ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# cluster_wait SECONDS COMMAND...: retry COMMAND (quietly) until it
# succeeds or SECONDS have passed.
cluster_wait() {
    local end=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.5
    done
}

cluster_up() {
    local dir=$1 prog node_line ctld_port slurmd_port host
    cluster_dir=$dir

    [ "$(id -u)" -eq 0 ] ||
        { cluster_fail "the Slurm test starts munged, slurmctld and slurmd itself and needs root (it runs as $(id -un))"; return 1; }
    for prog in munged mungekey slurmctld slurmd sbatch scontrol sinfo setpriv ss; do
        command -v "$prog" >/dev/null ||
            { cluster_fail "$prog is missing (Debian packages: munge slurmctld slurmd slurm-client; bash hpc/setup installs them)"; return 1; }
    done
    getent passwd munge >/dev/null ||
        { cluster_fail "no munge user (the munge package creates it)"; return 1; }

    # Settings of an outer Slurm (a test run inside a job, a user's
    # defaults) would reach this cluster's commands and jobs.
    local var
    for var in $(compgen -e); do
        case $var in
        SLURM_* | SBATCH_* | SALLOC_* | SRUN_* | SQUEUE_* | SINFO_* | SCONTROL_*) unset "$var" ;;
        esac
    done
    mkdir "$dir" || return 1
    mkdir -p "$dir"/{etc,state,spool,log,run}
    # munged checks that nobody but its own user can write where its key
    # and socket live; the directory above must be searchable to reach it.
    chmod 711 "$dir"
    install -d -o munge -g munge -m 700 "$dir/munge"

    mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null 2>&1 ||
        dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chown munge:munge "$dir/munge/munge.key"
    chmod 600 "$dir/munge/munge.key"

    # setpriv execs munged directly, so $! is munged itself.
    KILN_SLURM_TEST_DIR=$dir setpriv --reuid=munge --regid=munge --init-groups \
        munged --foreground --force --socket="$dir/munge/munge.socket" \
        --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
        --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" \
        >"$dir/log/munged.out" 2>&1 &
    cluster_pids+=($!)
    if ! cluster_wait 10 test -S "$dir/munge/munge.socket"; then
        cp "$dir/munge/munged.log" "$dir/log/munged.log" 2>/dev/null
        cluster_fail "munged did not create its socket within 10 s"
        return 1
    fi
    if ! munge -n -S "$dir/munge/munge.socket" | unmunge -S "$dir/munge/munge.socket" >/dev/null 2>&1; then
        cluster_fail "munged does not answer on $dir/munge/munge.socket"
        return 1
    fi

    if ! ctld_port=$(free_port) || ! slurmd_port=$(free_port); then
        cluster_fail "no free TCP port"
        return 1
    fi
    [ "$ctld_port" != "$slurmd_port" ] || slurmd_port=$((ctld_port + 1))
    host=$(hostname -s)
    # "NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105": keep the node
    # description, and put our own address and state after it.
    node_line=$(slurmd -C 2>/dev/null | sed -n 's/^\(NodeName=.*\)/\1/p' | head -1)
    [ -n "$node_line" ] || { cluster_fail "slurmd -C printed no node line"; return 1; }
    node_line=$(printf '%s\n' "$node_line" | sed "s/^NodeName=[^ ]*/NodeName=$host/")
    cluster_node=$host

    cat >"$dir/etc/slurm.conf" <<EOF
# Generated by tests/slurm/cluster.sh for one test run; see that file.
ClusterName=kilntest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
MinJobAge=86400
ReturnToService=2
InactiveLimit=0
KillWait=10
SlurmctldTimeout=30
SlurmdTimeout=60
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=kiln Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:2
EOF
    export SLURM_CONF=$dir/etc/slurm.conf

    KILN_SLURM_TEST_DIR=$dir slurmctld -D -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 &
    cluster_pids+=($!)
    KILN_SLURM_TEST_DIR=$dir slurmd -D -f "$SLURM_CONF" -N "$host" >"$dir/log/slurmd.out" 2>&1 &
    cluster_pids+=($!)
    if ! cluster_wait 30 scontrol ping; then
        cluster_fail "slurmctld does not answer scontrol ping within 30 s"
        return 1
    fi
    # Up when the node is idle: slurmd has registered with the controller.
    if ! cluster_wait 30 node_idle; then
        cluster_fail "node $host is not idle after 30 s: $(sinfo -h -N -o '%N %T' 2>&1)"
        return 1
    fi
    cluster_log "up in $dir: $(sinfo -h -o '%P %D node(s) %C CPUs (A/I/O/T) %T') (ports $ctld_port, $slurmd_port)"
}

node_idle() {
    [ "$(sinfo -h -N -n "$cluster_node" -o %T 2>/dev/null)" = idle ]
}

# The processes this cluster started, by the marker in their environment
# (daemons, slurmstepd, job scripts and their children), except this shell
# and its ancestors.
cluster_processes() {
    local f pid
    for f in /proc/[0-9]*/environ; do
        pid=${f#/proc/}
        pid=${pid%/environ}
        if [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ]; then
            continue
        fi
        { tr '\0' '\n' <"$f"; } 2>/dev/null |
            grep -qxF "KILN_SLURM_TEST_DIR=$cluster_dir" && echo "$pid"
    done
}

cluster_down() {
    local pid left _
    [ -n "$cluster_dir" ] || return 0
    if [ "${SLURM_CONF:-}" = "$cluster_dir/etc/slurm.conf" ]; then
        # Cancel whatever still runs on this cluster (and only this one),
        # so that slurmstepd ends its jobs itself.
        scancel --full --quiet --user=root >/dev/null 2>&1 || true
        cluster_wait 15 no_running_jobs || true
    fi
    for pid in "${cluster_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in $(seq 20); do
        left=0
        for pid in "${cluster_pids[@]}"; do
            kill -0 "$pid" 2>/dev/null && left=1
        done
        [ "$left" = 0 ] && break
        sleep 0.5
    done
    for pid in "${cluster_pids[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    # Stragglers: a slurmstepd or a job process the daemons left behind.
    for pid in $(cluster_processes); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    cluster_pids=()
    cluster_dir=
}

no_running_jobs() {
    [ -z "$(squeue -h -t running,completing,configuring -o %i 2>/dev/null)" ]
}
