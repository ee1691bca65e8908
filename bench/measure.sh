# Sourced by bench/like_for_like.sh, bench/outlier_scaling.sh and bench/tweakreg_skymatch.sh (each sets ROOT and WORK, then calls bench_setup).
#
# bench_setup RESULTS_NAME: the interpreters (MIRICAL_VENV, BENCH_VENV), CORES, SNAKEMAKE and SMOPTS, an empty
# WORK/RESULTS_NAME as RESULTS, and say TEXT (echoed and appended to RESULTS).
bench_setup() {
    MIRICAL_PY="${MIRICAL_VENV:-/work/venv-run}/bin/python"
    BENCH_PY="${BENCH_VENV:-/work/bench-venv}/bin/python"
    CORES=${CORES:-2}
    SNAKEMAKE="$(dirname "$MIRICAL_PY")/snakemake"
    SMOPTS=(--snakefile "$ROOT/Snakefile" --cores "$CORES" --quiet all)
    RESULTS="$WORK/$1"
    export PYTHONWARNINGS=ignore
    mkdir -p "$WORK"
    : > "$RESULTS"
}
say() { echo "$*" | tee -a "$RESULTS"; }

# measure LABEL CMD...: wall, CPU (user+sys of the process tree), peak RSS of its largest process, as ROW
# ("wall | CPU | RSS | load 1/5/15 min at start"); stdout and stderr in WORK/LABEL.out and .err.
measure() {
    local label=$1; shift
    local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/.$label.time" "$@" > "$WORK/$label.out" 2> "$WORK/$label.err" \
        || { echo "FAILED: $label (see $WORK/$label.err)"; tail -20 "$WORK/$label.err"; exit 1; }
    read -r wall user sys rss < <(tail -1 "$WORK/.$label.time")
    ROW="$wall | $(python3 -c "print(round($user + $sys, 1))") | $((rss / 1024)) | $load"
}

# big_rates DIR: 32 full-frame rate files DIR/rate/big_exp01..32_rate.fits (made once, kept) and the
# demo data they come from in DIR/sim/out/demo_data: 8 simulated dithers (the demo's maximum), each
# rate file copied 4 times, the copies given their own EXPOSURE number (else jwst puts copies of one
# dither into one group: one image for outlier detection, one group for tweakreg and skymatch).
big_rates() {
    local dir=$1
    [ -f "$dir/rate/big_exp32_rate.fits" ] && return
    rm -rf "$dir"; mkdir -p "$dir/rate"
    "$SNAKEMAKE" "$dir/sim/out/demo_data/truth.ecsv" --directory "$dir/sim" "${SMOPTS[@]}" \
        --config output_dir=out 'demo={n_dithers: 8}' > "$dir/sim.log" 2>&1
    local k=0 copy f
    for copy in 1 2 3 4; do
        for f in "$dir"/sim/out/demo_data/IMA_science/*_rate.fits; do
            k=$((k + 1))
            cp "$f" "$dir/rate/big_exp$(printf %02d $k)_rate.fits"
        done
    done
    "$MIRICAL_PY" -c "
import sys
from astropy.io import fits
for k, path in enumerate(sorted(sys.argv[1:]), 1):
    fits.setval(path, 'EXPOSURE', value=str(k))
" "$dir"/rate/big_exp*_rate.fits
}

# big_config DIR N: the config.yaml of the first N of big_rates DIR (name big, output_dir out), on stdout.
big_config() {
    local dir=$1 n=$2 i
    echo "name: big"
    echo "output_dir: out"
    echo "science:"
    for i in $(seq 1 "$n"); do echo "  - $dir/rate/big_exp$(printf %02d "$i")_rate.fits"; done
    echo "background: [\"$dir/sim/out/demo_data/IMA_background/*_rate.fits\"]"
    demo_reference_files "$dir/sim/out/demo_data"
}
