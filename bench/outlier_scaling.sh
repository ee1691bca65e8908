#!/usr/bin/env bash
# Outlier detection at 8, 16 and 32 full-frame exposures: jwst 3.0.0's OutlierDetectionStep (one
# process per N, its defaults, in memory) against mirical's outlier jobs (outlier_grid, one
# outlier_drizzle per exposure, outlier_median, one outlier_detection per exposure) on the same
# cal files. bench/run.sh runs it as a section; alone:
#
#   bash bench/outlier_scaling.sh [WORKDIR]     (default /tmp/mirical-bench; MIRICAL_VENV, BENCH_VENV, CORES as run.sh)
#
# The exposures: bench/measure.sh's 32 rate files (8 simulated dithers, the demo's maximum, each
# copied 4 times as run.sh does, the copies given their own EXPOSURE number, else jwst puts copies of
# one dither into one group and drizzles them as one image); N takes the first N. mirical calibrates
# them first (not timed; kept for the next run), then the timed run makes the crf files only
# (the outlier jobs forced), through bench/job_cpu.py: each job's own CPU and peak RSS, exact.
# Results: WORKDIR/outlier_results.md; per rule in WORKDIR/outlier_<N>/jobs.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/demo_references.sh
. "$ROOT/bench/demo_references.sh"
# shellcheck source=bench/measure.sh
. "$ROOT/bench/measure.sh"
WORK=$(realpath -m "${1:-/tmp/mirical-bench}")
bench_setup "outlier_results.md"

D="$WORK/outlier_data"
big_rates "$D"

say "## Outlier detection, 8/16/32 full-frame exposures"
say ""
say "--cores $CORES."
say ""
say "| N | run | wall s | CPU s (user+sys) | peak RSS MB (largest process) | load 1/5/15 min at start | mirical jobs: CPU s (sum) | max job RSS MB | outlier_median RSS MB |"
say "|---:|---|---:|---:|---:|---|---:|---:|---:|"
for n in 8 16 32; do
    W="$WORK/outlier_$n"
    mkdir -p "$W"
    big_config "$D" "$n" > "$W/config.yaml.new"
    cmp -s "$W/config.yaml.new" "$W/config.yaml" || { rm -rf "$W/out" "$W/.snakemake"; mv "$W/config.yaml.new" "$W/config.yaml"; }
    rm -rf "$W/config.yaml.new" "$W/official"
    cals=(); crfs=()
    for i in $(seq 1 "$n"); do cals+=("out/big_dither${i}_cal.fits"); crfs+=("out/big_dither${i}_crf.fits"); done
    "$SNAKEMAKE" "${cals[@]}" --directory "$W" "${SMOPTS[@]}" --configfile "$W/config.yaml" > "$W/cal.log" 2>&1

    # job_cpu.py's rules are the scripts: mosaic_grid and mosaic_drizzle are outlier_grid and outlier_drizzle here
    measure "outlier_mirical_$n" "$MIRICAL_PY" "$ROOT/bench/job_cpu.py" "$W" -- "${crfs[@]}" --cores "$CORES" \
        --quiet all --configfile "$W/config.yaml" --forcerun outlier_grid
    jobs=$(tee "$W/jobs.md" < "$WORK/outlier_mirical_$n.out" \
        | awk -F'|' '$2 ~ /outlier|mosaic/ {cpu += $5; if ($7 > rss) rss = $7} $2 ~ /outlier_median/ {med = $7}
                     END {printf "%.1f | %d | %d", cpu, rss, med}')
    say "| $n | mirical (snakemake, $CORES cores) | $ROW | $jobs |"
    measure "outlier_official_$n" "$BENCH_PY" "$ROOT/tests/official.py" outlier "$W/official" big \
        "${cals[@]/#/$W/}"
    say "| $n | official OutlierDetectionStep | $ROW | | | |"
done
