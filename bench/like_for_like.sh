#!/usr/bin/env bash
# Like for like: mirical's default target against what a user of the official pipeline runs for the
# same products. bench/run.sh runs it as its first section; alone:
#
#   bash bench/like_for_like.sh [WORKDIR] [SIZE ...]   (default /tmp/mirical-bench, SIZE demo 8 32;
#                                                       MIRICAL_VENV, BENCH_VENV, CORES as run.sh)
#
# SIZE "demo": the demo's program (4 full-frame F1130W dithers + 1 background, the seed notebook's
# size), simulated once; a number N: the first N of bench/measure.sh's 32 full-frame rate files with the
# simulator's background. Each run starts from the rate files (nothing of an earlier run kept):
# - mirical: `snakemake --cores CORES` from its run-time install (MIRICAL_VENV), the default target
#   (calibration, tweakreg, skymatch, outlier detection, mosaic, source catalog, figures, summary), and
#   the same run's `products` target (no figures, no summary) beside it; then Snakemake's own start
#   and planning on the finished folder (a run with nothing to do).
# - official: `Image2Pipeline` on mirical's association, then `Image3Pipeline` (tweakreg, skymatch,
#   outlier_detection, resample, source_catalog) on its cal files, each in its own process as `strun`
#   runs them (tests/official.py image2, image3), offline, with the same reference files and
#   tweakreg's values for the filter (config.yaml's tweakreg.filters, what mirical uses).
# Each row: wall, CPU (user+sys of the whole process tree), peak RSS of the largest process (GNU time),
# and for mirical the largest job (its benchmark file and the warm worker's line in its log).
# Results: WORKDIR/like_for_like_results.md (bench/like_for_like_table.py makes the table and ratios);
# each run's benchmarks and logs stay in WORKDIR/like_for_like_SIZE/ for bench/critical_path.py.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/demo_references.sh
. "$ROOT/bench/demo_references.sh"
# shellcheck source=bench/measure.sh
. "$ROOT/bench/measure.sh"
WORK=$(realpath -m "${1:-/tmp/mirical-bench}")
shift || true
if [ $# -gt 0 ]; then SIZES=("$@"); else SIZES=(demo 8 32); fi
bench_setup "like_for_like_results.md"
ROWS="$WORK/like_for_like.tsv"
printf "size\tside\trun\twall_s\tcpu_s\trss_mb\tload\n" > "$ROWS"

# Bytecode and matplotlib's font cache made before anything is timed (a first import would make them).
"$MIRICAL_PY" -m compileall -q "$ROOT/mirical" "$("$MIRICAL_PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" > /dev/null || true
"$BENCH_PY" -m compileall -q "$("$BENCH_PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" > /dev/null || true
"$MIRICAL_PY" -c "import matplotlib.pyplot"

# config SIZE: the config.yaml of SIZE's run (stdout); REFDIR: its reference files' folder.
config() {
    local size=$1
    if [ "$size" = demo ]; then
        local sim="$WORK/demo_sim"
        [ -f "$sim/out/demo_data/truth.ecsv" ] || "$SNAKEMAKE" "$sim/out/demo_data/truth.ecsv" --directory "$sim" \
            "${SMOPTS[@]}" --config output_dir=out > "$WORK/demo_sim.log" 2>&1
        local data="$sim/out/demo_data"
        REFDIR="$data/reference"
        echo "name: demo"
        echo "output_dir: out"
        echo "science: [\"$data/IMA_science/*_rate.fits\"]"
        echo "background: [\"$data/IMA_background/*_rate.fits\"]"
        demo_reference_files "$data"
    else
        big_rates "$WORK/outlier_data" > /dev/null
        REFDIR="$WORK/outlier_data/sim/out/demo_data/reference"
        big_config "$WORK/outlier_data" "$size"
    fi
}

row() {  # SIDE RUN: the last measure's ROW into like_for_like.tsv
    printf "%s\t%s\t%s\t%s\n" "$size" "$1" "$2" "$(echo "$ROW" | sed 's/ | /\t/g')" >> "$ROWS"
}

for size in "${SIZES[@]}"; do
    W="$WORK/like_for_like_$size"
    rm -rf "$W"; mkdir -p "$W"
    config "$size" > "$W/config.yaml"
    run=(--directory "$W" "${SMOPTS[@]}" --configfile "$W/config.yaml")
    name=$(awk '/^name:/{print $2}' "$W/config.yaml")

    measure "lfl_${size}_mirical_products" "$SNAKEMAKE" products "${run[@]}"
    row mirical "products (no figures, no summary)"

    # The official pipeline on mirical's association (members relative to its folder) and reference files.
    O="$W/official"
    mkdir -p "$O"
    cp "$W/out/${name}_lvl2_asn.json" "$W/out/${name}_official_asn.json"
    pushd "$W/out" > /dev/null
    measure "lfl_${size}_official_image2" "$BENCH_PY" "$ROOT/tests/official.py" image2 "${name}_official_asn.json" \
        "$REFDIR" "$O"
    popd > /dev/null
    row official "Image2Pipeline"
    steps=$("$MIRICAL_PY" -c '
import glob, json, sys
import yaml
from astropy.io import fits
block = yaml.safe_load(open(sys.argv[1]))["tweakreg"]
refdir = sys.argv[3]
print(json.dumps({"tweakreg": block["filters"][fits.getval(sys.argv[2], "FILTER")],
                  "source_catalog": {"override_apcorr": glob.glob(refdir + "/*apcorr*")[0],
                                     "override_abvegaoffset": glob.glob(refdir + "/*abvegaoffset*")[0]}}))
' "$ROOT/config.yaml" "$(ls "$O"/*_cal.fits | head -1)" "$REFDIR")
    echo "$steps" > "$W/official_image3_steps.json"
    # The cal files in the association's order (dither1, dither2, ..., dither10: `ls -v`), as mirical's stage 3
    # takes them: tweakreg's reference among equally good images depends on the order.
    # shellcheck disable=SC2046
    measure "lfl_${size}_official_image3" "$BENCH_PY" "$ROOT/tests/official.py" image3 "$O" "$name" "$steps" \
        $(ls -v "$O"/*_cal.fits)
    row official "Image3Pipeline"
    mv "$O/${name}_i2d.fits" "$O/${name}_official_i2d.fits"  # the mosaic, as bench/compare_official.py names it

    rm -rf "$W/out" "$W/.snakemake"
    measure "lfl_${size}_mirical_all" "$SNAKEMAKE" "${run[@]}"
    row mirical "default target"
    measure "lfl_${size}_mirical_noop" "$SNAKEMAKE" "${run[@]}"
    row mirical "start and planning (nothing to do)"
    # The largest job: its peak RSS from its benchmark file or the warm worker's line in its log.
    "$MIRICAL_PY" - "$W/out/benchmarks" >> "$ROWS" <<EOF
import sys
sys.path.insert(0, "$ROOT/bench")
from summarize_benchmarks import job_records
rel, rec = max(job_records(__import__("pathlib").Path(sys.argv[1])), key=lambda r: float(r[1]["max_rss"]))
print(f"$size\tmirical\tlargest job ({rel.with_suffix('')})\t{float(rec['s']):.2f}\t{float(rec['cpu_time']):.1f}\t{float(rec['max_rss']):.0f}\t")
EOF
done

"$MIRICAL_PY" "$ROOT/bench/like_for_like_table.py" "$ROWS" --cores "$CORES" --runs "$WORK" | tee -a "$RESULTS"
