#!/usr/bin/env bash
# skymatch at 8 full-frame exposures: jwst 3.0.0's SkyMatchStep (its defaults, in memory) against
# mirical's skymatch job (one job, one exposure in memory at a time) on the same cal files.
#
#   bash bench/skymatch_timing.sh [WORKDIR]     (default /tmp/mirical-bench; MIRICAL_VENV, BENCH_VENV, CORES as run.sh)
#
# The exposures: the demo's 8 full-frame dithers, calibrated by mirical first (not timed; kept
# for the next run). Then the timed runs: mirical's skymatch job forced (Snakemake start-up and
# planning included in the wall time; the job's own CPU and peak RSS from its log) and the
# official step in one process (its import included). Results: WORKDIR/skymatch_results.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(realpath -m "${1:-/tmp/mirical-bench}")
MIRICAL_PY="${MIRICAL_VENV:-/work/venv-run}/bin/python"
BENCH_PY="${BENCH_VENV:-/work/bench-venv}/bin/python"
CORES=${CORES:-2}
N=8
W="$WORK/skymatch_$N"
RESULTS="$WORK/skymatch_results.md"
DEMO="demo={n_dithers: $N}"
SMOPTS=(--snakefile "$ROOT/Snakefile" --directory "$W" --cores "$CORES" --quiet all --config output_dir=out "$DEMO")
export PYTHONWARNINGS=ignore
mkdir -p "$W"
: > "$RESULTS"
say() { echo "$*" | tee -a "$RESULTS"; }

# measure LABEL CMD...: wall, CPU (user+sys of the process tree), peak RSS of its largest process
measure() {
    local label=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/.skymatch_time" "$@" > "$WORK/$label.out" 2> "$WORK/$label.err" \
        || { echo "FAILED: $label (see $WORK/$label.err)"; tail -20 "$WORK/$label.err"; exit 1; }
    read -r wall user sys rss < <(tail -1 "$WORK/.skymatch_time")
    ROW="$wall | $(python3 -c "print(round($user + $sys, 1))") | $((rss / 1024))"
}

cals=()
for i in $(seq 1 "$N"); do cals+=("out/demo_dither${i}_cal.fits"); done
"$MIRICAL_PY" -m snakemake "${cals[@]}" "${SMOPTS[@]}" > "$W/cal.log" 2>&1

say "## skymatch, $N full-frame exposures ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
say ""
say "| run | wall s | CPU s (user+sys) | peak RSS MB (largest process) | job CPU s | job peak RSS MB |"
say "|---|---:|---:|---:|---:|---:|"
measure skymatch_mirical "$MIRICAL_PY" -m snakemake out/intermediate/demo_skymatch_levels.ecsv "${SMOPTS[@]}" \
    --forcerun skymatch
job=$(grep -o "cpu_s=[0-9.]* max_rss_mb=[0-9.]*" "$W/out/logs/skymatch.log" | tail -1 \
    | sed 's/cpu_s=\([0-9.]*\) max_rss_mb=\([0-9.]*\)/\1 | \2/')
say "| mirical skymatch job (snakemake) | $ROW | ${job:- | } |"
rm -rf "$W/official"; mkdir -p "$W/official"
measure skymatch_official "$BENCH_PY" "$ROOT/tests/official.py" skymatch "$W/official" demo "${cals[@]/#/$W/}"
say "| official SkyMatchStep | $ROW | | |"
