#!/bin/bash
# Submit the ablation grid as a SLURM job array of M shards plus the dependent merge job.
#
#   scripts/slurm/submit.sh M [-- ABLATION ARGUMENTS...]
#   scripts/slurm/submit.sh 8 -- --preset paper --data /path/to/microns --field 6_6_2
#
# Environment: OUT_ROOT (default results/ablation-slurm; shards go to OUT_ROOT/shard-K, the
# merge to OUT_ROOT/merged, logs to OUT_ROOT/logs), ABLATION_BIN (default
# target/release/examples/ablation; build it first with
# `cargo build --release --example ablation`), SBATCH_ARGS (extra sbatch options for both jobs,
# e.g. "--partition=long --account=lab"), ARRAY_ARGS (extra options for the array only, e.g.
# "--time=48:00:00 --cpus-per-task=4").
# Prints "ARRAY_JOB_ID MERGE_JOB_ID".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
M=${1:?usage: submit.sh M [-- ABLATION ARGUMENTS...]}
shift
[[ "$M" =~ ^[1-9][0-9]*$ ]] || { echo "error: M must be a positive integer, got '$M'" >&2; exit 2; }
[[ "${1:-}" == "--" ]] && shift

OUT_ROOT=$(realpath -m "${OUT_ROOT:-results/ablation-slurm}")
ABLATION_BIN=$(realpath -m "${ABLATION_BIN:-target/release/examples/ablation}")
[[ -x "$ABLATION_BIN" ]] || {
    echo "error: $ABLATION_BIN is not an executable; run cargo build --release --example ablation" >&2
    exit 2
}
mkdir -p "$OUT_ROOT/logs"
export_vars="ALL,SHARDS=$M,OUT_ROOT=$OUT_ROOT,ABLATION_BIN=$ABLATION_BIN"

# shellcheck disable=SC2086  # SBATCH_ARGS and ARRAY_ARGS are option lists
array=$(sbatch --parsable --array="0-$((M - 1))" --export="$export_vars" \
    --output="$OUT_ROOT/logs/shard-%a.out" ${SBATCH_ARGS:-} ${ARRAY_ARGS:-} \
    "$here/ablation-array.sbatch" -- "$@")
array=${array%%;*}
# shellcheck disable=SC2086
merge=$(sbatch --parsable --dependency="afterok:$array" --export="$export_vars" \
    --output="$OUT_ROOT/logs/merge.out" ${SBATCH_ARGS:-} "$here/ablation-merge.sbatch")
merge=${merge%%;*}
echo "$array $merge"
