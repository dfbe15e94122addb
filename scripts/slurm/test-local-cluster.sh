#!/bin/bash
# Prove the SLURM scale-out on a real scheduler, on this machine (Debian 12, as root):
# install slurm-wlm and munge, start a one-node cluster on localhost (its own munge socket,
# configuration, ports and state under a temporary directory; nothing in /etc is changed),
# submit a tiny grid as a 2-task job array plus the dependent merge (submit.sh), run the same
# grid unsharded, and compare: the same runs with the same values (timings aside), as sorted
# row sets and in the merge's canonical order, and identical summary.md. Exits non-zero on any
# difference; stops the daemons it started either way.
#
#   sudo scripts/slurm/test-local-cluster.sh
#
# Environment: ABLATION_BIN (default $CARGO_TARGET_DIR or target, /release/examples/ablation;
# built if absent), WORK (scratch directory, default a new /tmp/slurm-local.*; kept on
# failure, removed on success unless KEEP_WORK=1), SLURM_PORT (controller port, default 16817;
# slurmd uses the next one).
#
# Container notes: no systemd and no cgroup delegation are needed: ProctrackType=
# proctrack/linuxproc, TaskPlugin=task/none, JobAcctGatherType=jobacct_gather/none; the
# package scripts' service starts are suppressed with a temporary policy-rc.d (exit 101).
set -euo pipefail

started=$(date +%s)
say() { echo "[$(($(date +%s) - started))s] $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root (it installs packages and starts daemons)"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${ABLATION_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/examples/ablation}
if [[ ! -x "$BIN" ]]; then
    say "building $BIN"
    (cd "$repo" && cargo build --release --example ablation)
fi
BIN=$(realpath "$BIN")
# The grid must be the built-in synthetic field, whatever the caller's environment says.
unset CORTICAL_DATA
# The tiny grid: 2 variants x 1 task x 2 simulations = 4 runs, a second or two each.
GRID=(--variants 'WD*C,W*D*C*' --tasks go-no-go --simulations 2 --epochs 1 --batches 2
    --n 24 --nulls 5 --seed 7)

# 1. Packages.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
    ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    say "installing slurm-wlm and munge"
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
    fi
    install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge; }
    install || { apt-get update -q && install; } || { [[ $own_policy == 1 ]] && rm -f "$policy"; die "apt-get install failed"; }
    [[ $own_policy == 1 ]] && rm -f "$policy"
fi
say "$(slurmctld -V), $(munged --version 2>&1 | head -1 | awk '{print $1}')"

# 2. Scratch layout. munged runs as user munge and refuses group/world-writable paths.
WORK=${WORK:-$(mktemp -d /tmp/slurm-local.XXXXXX)}
chmod 755 "$WORK"
mkdir -p "$WORK"/{etc,spool/ctld,spool/d,log,munge,munge-run,out}
chown munge:munge "$WORK/munge" "$WORK/munge-run"
chmod 700 "$WORK/munge"
chmod 755 "$WORK/munge-run" # clients need execute permission on the socket's directory
pids=()
cleanup() {
    rc=$?
    # Nothing of ours left queued (a failed shard leaves the merge pending forever).
    [[ -n "${merge:-}" ]] && { scancel "$array" "$merge" 2>/dev/null || true; }
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    [[ ${#pids[@]} -gt 0 ]] && say "daemons stopped"
    if [[ $rc == 0 && -z "${KEEP_WORK:-}" ]]; then rm -rf "$WORK"; else echo "work directory kept: $WORK"; fi
    say "wall time $(($(date +%s) - started)) s, exit $rc"
}
trap cleanup EXIT

# 3. munge with its own key and socket.
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chown munge:munge "$WORK/munge/munge.key"
chmod 400 "$WORK/munge/munge.key"
sock=$WORK/munge-run/munge.socket
# setpriv execs munged itself (no wrapper process), so $! is the daemon's pid.
setpriv --reuid=munge --regid=munge --init-groups -- munged --foreground --key-file="$WORK/munge/munge.key" \
    --socket="$sock" --pid-file="$WORK/munge-run/munged.pid" \
    --seed-file="$WORK/munge/munged.seed" --log-file="$WORK/munge/munged.log" \
    >>"$WORK/log/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.2; done
munge --socket="$sock" -n | unmunge --socket="$sock" >/dev/null || die "munge does not work (log: $WORK/munge/munged.log)"
say "munged up"

# 4. A one-node cluster on localhost.
port=${SLURM_PORT:-16817}
cpus=$(nproc)
((cpus > 2)) && cpus=2
export SLURM_CONF=$WORK/etc/slurm.conf
cat >"$SLURM_CONF" <<CONF
ClusterName=local
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$WORK/spool/ctld
SlurmdSpoolDir=$WORK/spool/d
SlurmctldPidFile=$WORK/spool/slurmctld.pid
SlurmdPidFile=$WORK/spool/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
# In the foreground (-D) so that their pids are ours to stop; they log to $WORK/log.
slurmctld -D -i -f "$SLURM_CONF" >>"$WORK/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" >>"$WORK/log/slurmd.out" 2>&1 &
pids+=($!)
state=
for _ in $(seq 120); do
    state=$(sinfo -h -N -n localhost -o %t 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 0.5
done
[[ $state == idle ]] || { tail -n 20 "$WORK"/log/*; die "node localhost not idle (state '$state')"; }
say "slurmctld and slurmd up, node localhost idle"

# 5. The array of 2 shards and the dependent merge, through the documented submit script.
out=$WORK/out/slurm
read -r array merge < <(OUT_ROOT=$out ABLATION_BIN=$BIN "$repo/scripts/slurm/submit.sh" 2 -- "${GRID[@]}")
[[ -n "${merge:-}" ]] || die "submission failed"
say "submitted array job $array (2 tasks) and merge job $merge (afterok:$array)"
for _ in $(seq 600); do
    [[ -z "$(squeue -h -j "$array,$merge" -o %i 2>/dev/null)" ]] && break
    if squeue -h -j "$merge" -o %r 2>/dev/null | grep -q DependencyNeverSatisfied; then
        cat "$out"/logs/*.out
        die "a shard failed; the merge will never run"
    fi
    sleep 0.5
done
[[ -z "$(squeue -h -j "$array,$merge" -o %i 2>/dev/null)" ]] || die "jobs still queued after 300 s"
for j in "${array}_0" "${array}_1" "$merge"; do
    info=$(scontrol show job "$j")
    js=$(grep -o 'JobState=[A-Z_]*' <<<"$info")
    ec=$(grep -o ' ExitCode=[0-9:]*' <<<"$info")
    echo "  job $j: $js$ec"
    [[ $js == JobState=COMPLETED && $ec == " ExitCode=0:0" ]] || { cat "$out"/logs/*.out; die "job $j did not complete"; }
done
say "array and merge completed; merge log:"
sed 's/^/    /' "$out/logs/merge.out"

# 6. The same grid, unsharded, outside SLURM.
whole=$WORK/out/whole
"$BIN" "${GRID[@]}" --threads 2 --out "$whole" >"$WORK/out/whole.log" 2>&1 || { cat "$WORK/out/whole.log"; die "unsharded run failed"; }
say "unsharded run done"

# 7. Compare. Timings (metrics time_*) are the only values that may differ between executions.
rows() { awk -F, '$6 !~ /^time_/' "$1"; }
status_rows=$(grep -c ',status,' "$out/merged/results.csv" || true)
[[ $status_rows == 4 ]] || die "merged results.csv has $status_rows runs, expected 4"
for d in "$out/shard-0" "$out/shard-1"; do
    n=$(grep -c ',status,' "$d/results.csv" || true)
    echo "  $(basename "$d"): $n run(s), $(grep -o '"shard": "[0-9/]*"' "$d/config.json")"
done
if ! diff <(rows "$out/merged/results.csv" | sort) <(rows "$whole/results.csv" | sort); then
    die "merged and unsharded results differ (sorted row sets, timings aside)"
fi
echo "  sorted row sets identical: $(rows "$whole/results.csv" | tail -n +2 | wc -l) rows (timings aside)"
"$BIN" merge "$whole" --out "$WORK/out/whole-canonical" >/dev/null
diff <(rows "$out/merged/results.csv") <(rows "$WORK/out/whole-canonical/results.csv") ||
    die "merged and canonicalized unsharded results.csv differ in line order or content"
echo "  canonical order identical (ablation merge of the unsharded run alone)"
cmp "$out/merged/summary.md" "$whole/summary.md" || die "summary.md differs"
echo "  summary.md identical"
say "PASS: the SLURM array of 2 shards, merged, equals the unsharded run"
