#!/usr/bin/env bash
# Stage-3 alignment and sky matching at 8 and 32 full-frame exposures: jwst 3.0.0's TweakRegStep and
# SkyMatchStep (one process each, their defaults: every image in memory) against mirical's jobs on
# the same cal files. bench/run.sh runs it as a section; alone:
#
#   bash bench/tweakreg_skymatch.sh [WORKDIR] [N ...]   (default /tmp/mirical-bench, N 8 32;
#                                                        MIRICAL_VENV, BENCH_VENV, CORES as run.sh)
#
# The exposures: the first N of bench/measure.sh's 32 rate files (outlier_scaling.sh's), calibrated
# by mirical first (not timed; kept for the next run). Then, timed: mirical's tweakreg jobs forced
# (tweakreg_catalog per exposure, tweakreg_align, tweakreg per exposure) through Snakemake, and its
# skymatch jobs forced (skymatch_footprints, skymatch_measure per exposure, skymatch), each command's
# wall time with Snakemake's start-up and planning; each rule's jobs from their benchmark: files
# (bench/summarize_benchmarks.py: wall and CPU summed, the largest peak RSS). The official steps run
# with mirical's values for the exposures' filter (config.yaml's tweakreg.filters, as
# tests/test_official_tweakreg.py gives them) and save their catalogs (mirical
# writes them as products); SkyMatchStep reads TweakRegStep's results as mirical's skymatch reads
# its tweakreg files. Results: WORKDIR/tweakreg_skymatch_results.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/demo_references.sh
. "$ROOT/bench/demo_references.sh"
# shellcheck source=bench/measure.sh
. "$ROOT/bench/measure.sh"
WORK=$(realpath -m "${1:-/tmp/mirical-bench}")
shift || true
if [ $# -gt 0 ]; then SIZES=("$@"); else SIZES=(8 32); fi
bench_setup "tweakreg_skymatch_results.md"

D="$WORK/outlier_data"
big_rates "$D"
options=$("$MIRICAL_PY" -c '
import json, sys
import yaml
from astropy.io import fits
block = yaml.safe_load(open(sys.argv[1]))["tweakreg"]
print(json.dumps({"save_catalogs": True, **block["filters"][fits.getval(sys.argv[2], "FILTER")]}))
' "$ROOT/config.yaml" "$D/rate/big_exp01_rate.fits")

# jobs RULE: "wall s (sum) | CPU s (sum) | largest peak RSS MB" of RULE's jobs in W's benchmark files
jobs() {
    "$MIRICAL_PY" "$ROOT/bench/summarize_benchmarks.py" "$W/out/benchmarks" \
        | awk -F'|' -v rule=" $1 " '$2 == rule {gsub(/ /, ""); printf "%s | %s | %s", $5, $7, $8}'
}

say "## Alignment and sky matching, $(IFS=/; echo "${SIZES[*]}") full-frame exposures"
say ""
say "Measured $(date -u +%F) on $(nproc) cores, --cores $CORES; official options: \`$options\`."
say "mirical's rows are its Snakemake commands (start-up and planning included, jobs on $CORES cores), each"
say "followed by its jobs (·), from their \`benchmark:\` files: wall and CPU summed over the jobs, the largest"
say "peak RSS of one job. The official rows are one process per step, its import included."
say ""
say "| N | run | wall s | CPU s (user+sys) | peak RSS MB (largest process) | load 1/5/15 min at start |"
say "|---:|---|---:|---:|---:|---|"
sky_rss=(); official_rss=()
for n in "${SIZES[@]}"; do
    W="$WORK/tweakreg_skymatch_$n"
    mkdir -p "$W"
    big_config "$D" "$n" > "$W/config.yaml.new"
    cmp -s "$W/config.yaml.new" "$W/config.yaml" || { rm -rf "$W/out" "$W/.snakemake"; mv "$W/config.yaml.new" "$W/config.yaml"; }
    rm -rf "$W/config.yaml.new" "$W/official"
    cals=(); tweaked=(); official=()
    for i in $(seq 1 "$n"); do
        cals+=("out/big_dither${i}_cal.fits"); tweaked+=("out/intermediate/big_dither${i}_tweakreg.fits")
        official+=("$W/official/big_dither${i}_cal.fits")
    done
    run=(--directory "$W" "${SMOPTS[@]}" --configfile "$W/config.yaml")
    "$SNAKEMAKE" "${cals[@]}" "${run[@]}" > "$W/cal.log" 2>&1

    measure "tweakreg_mirical_$n" "$SNAKEMAKE" "${tweaked[@]}" "${run[@]}" --forcerun tweakreg_catalog
    say "| $n | mirical tweakreg (snakemake, $CORES cores) | $ROW |"
    say "| $n | · its $n tweakreg_catalog jobs | $(jobs tweakreg_catalog) | |"
    say "| $n | · its tweakreg_align job | $(jobs tweakreg_align) | |"
    say "| $n | · its $n tweakreg jobs | $(jobs tweakreg) | |"
    measure "tweakreg_official_$n" "$BENCH_PY" "$ROOT/tests/official.py" tweakreg "$W/official" big "$options" \
        "${cals[@]/#/$W/}"
    say "| $n | official TweakRegStep | $ROW |"

    measure "skymatch_mirical_$n" "$SNAKEMAKE" out/intermediate/big_skymatch_levels.ecsv "${run[@]}" \
        --forcerun skymatch_footprints
    say "| $n | mirical skymatch (snakemake, $CORES cores) | $ROW |"
    footprints=$(jobs skymatch_footprints); stats=$(jobs skymatch_measure); sky=$(jobs skymatch)
    say "| $n | · its skymatch_footprints job | $footprints | |"
    say "| $n | · its $n skymatch_measure jobs | $stats | |"
    say "| $n | · its skymatch job | $sky | |"
    sky_rss+=("$(printf '%s\n' "$footprints" "$stats" "$sky" | awk -F'|' '{gsub(/ /, ""); if ($3 > m) m = $3} END {print m}') MB at $n")
    measure "skymatch_official_$n" "$BENCH_PY" "$ROOT/tests/official.py" skymatch "$W/official/sky" big "${official[@]}"
    say "| $n | official SkyMatchStep | $ROW |"
    official_rss+=("$(echo "$ROW" | awk -F'|' '{gsub(/ /, ""); print $3}') MB at $n")
done
say ""
say "Peak RSS of sky matching, by number of exposures: mirical's largest skymatch job $(IFS=,; echo "${sky_rss[*]}" \
    | sed 's/,/, /g'), the official SkyMatchStep $(IFS=,; echo "${official_rss[*]}" | sed 's/,/, /g')."
