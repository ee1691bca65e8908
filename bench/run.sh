#!/usr/bin/env bash
# Every number of bench/README.md with one command: mirical vs the official jwst pipeline.
#
#   bash bench/run.sh [WORKDIR]          (default /tmp/mirical-bench; ~1 h on 2 cores)
#
# Environment: MIRICAL_VENV (mirical's run-time venv, what `./quickstart demo` installs and
# nothing else -- no stdatamodels/jwst, whose asdf extensions every job would load -- made
# here if missing; default /work/venv-run), BENCH_VENV (the official pipeline's venv, made
# here if missing: jwst==3.0.0 from PyPI, a bench-only dependency), CORES (default 2), SKIP_32=1 to leave out the 32-exposure runs.
# Results: WORKDIR/results.md (+ the raw files beside it). Wall times depend on what else
# the machine runs: the load average is recorded with each number, and so is the CPU time
# (user+sys of the whole process tree), which contention changes much less.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/demo_references.sh
. "$ROOT/bench/demo_references.sh"
WORK=$(realpath -m "${1:-/tmp/mirical-bench}")
MIRICAL_VENV=${MIRICAL_VENV:-/work/venv-run}
MIRICAL_PY="$MIRICAL_VENV/bin/python"
BENCH_VENV=${BENCH_VENV:-/work/bench-venv}
CORES=${CORES:-2}
SNAKEMAKE="$(dirname "$MIRICAL_PY")/snakemake"
OFFICIAL="$BENCH_VENV/bin/python $ROOT/tests/official.py"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONWARNINGS=ignore

if [ ! -x "$MIRICAL_PY" ] || ! "$MIRICAL_PY" -c "import mirical, snakemake" 2>/dev/null; then
    echo "== making $MIRICAL_VENV (mirical, run-time dependencies only)"
    python3 -m venv "$MIRICAL_VENV"
    "$MIRICAL_VENV/bin/pip" install -q -e "$ROOT"
fi
if [ ! -x "$BENCH_VENV/bin/python" ] || ! "$BENCH_VENV/bin/python" -c "import jwst" 2>/dev/null; then
    echo "== making $BENCH_VENV (jwst==3.0.0)"
    python3 -m venv "$BENCH_VENV"
    "$BENCH_VENV/bin/pip" install -q "jwst==3.0.0" psutil
fi

mkdir -p "$WORK"
RESULTS="$WORK/results.md"
: > "$RESULTS"
say() { echo "$*" | tee -a "$RESULTS"; }

# timed LABEL CMD...: wall/user/sys/maxrss of CMD (and its children) -> results + timings.tsv
timed() {
    local label=$1; shift
    local load; load=$(cut -d' ' -f1 /proc/loadavg)
    local file="$WORK/${label//\//-}"  # a label may hold a slash ("map/reduce")
    /usr/bin/time -f "%e\t%U\t%S\t%M" -o "$WORK/.time" "$@" > "$file.out" 2> "$file.err" \
        || { echo "FAILED: $label (see $file.err)"; tail -20 "$file.err"; exit 1; }
    local t; t=$(tail -1 "$WORK/.time")
    IFS=$'\t' read -r wall user sys rss <<< "$t"
    printf "%s\t%s\t%s\t%s\t%s\t%s\n" "$label" "$wall" "$user" "$sys" "$((rss / 1024))" "$load" >> "$WORK/timings.tsv"
    say "| $label | $wall | $(python3 -c "print(round($user+$sys,1))") | $((rss / 1024)) | $load |"
}

# Calibration outputs only (no plots): association, refs, cal, i2d per product, the mosaic.
targets() {  # OUT NAME N
    local out=$1 name=$2 n=$3
    echo "$out/${name}_lvl2_asn.json" "$out/${name}_i2d.fits"
    for i in $(seq 1 "$n"); do
        echo "$out/${name}_dither${i}_cal.fits" "$out/${name}_dither${i}_i2d.fits" \
            "$out/intermediate/${name}_dither${i}_refs.json"
    done
}

printf "label\twall_s\tuser_s\tsys_s\tmaxrss_mb\tload1\n" > "$WORK/timings.tsv"
say "# mirical benchmark $(date -u +%FT%TZ)"
say ""
say "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(lscpu | grep 'Model name' | sed 's/ \+/ /g')"
say "mirical $("$MIRICAL_PY" -c 'import mirical; print(mirical.__version__)'), snakemake $("$SNAKEMAKE" --version), jwst $("$BENCH_VENV/bin/python" -c 'import jwst; print(jwst.__version__)')"
say "code: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+changes')"
say ""
say "## Calibration against the official pipeline"
say ""
say "| run | wall s | CPU s (user+sys) | peak RSS MB (largest process) | load avg at start |"
say "|---|---:|---:|---:|---:|"

# ---------------------------------------------------------------- 1. the demo (4 dithers)
D="$WORK/demo"
rm -rf "$D"; mkdir -p "$D"
# Targets first: --quiet and --config take any number of values.
SMOPTS=(--snakefile "$ROOT/Snakefile" --cores "$CORES" --quiet all)
timed "mirical demo: simulate" "$SNAKEMAKE" "$D/out/demo_data/truth.ecsv" --directory "$D" "${SMOPTS[@]}" \
    --config output_dir=out
# shellcheck disable=SC2046
timed "mirical demo: calibration (cal+i2d+mosaic)" "$SNAKEMAKE" $(targets out demo 4) --directory "$D" \
    "${SMOPTS[@]}" --config output_dir=out
# The rest of the default target (figures, summary), timed apart: their benchmark files feed the
# critical path (section 4); the comparison with the official pipeline is the calibration above.
timed "mirical demo: figures + summary (the rest of the default target)" "$SNAKEMAKE" --directory "$D" \
    "${SMOPTS[@]}" --config output_dir=out
# the benchmark files and, beside them, the logs (a warm-worker job's CPU: summarize_benchmarks.py)
rm -rf "$WORK/demo_run"; mkdir -p "$WORK/demo_run"; cp -r "$D/out/benchmarks" "$D/out/logs" "$WORK/demo_run/"

O="$WORK/demo_official"
rm -rf "$O"; mkdir -p "$O"
(cd "$D/out" && timed "official demo: Image2Pipeline (4 exposures)" $OFFICIAL image2 demo_lvl2_asn.json demo_data/reference "$O")
timed "official demo: ResampleStep mosaic" $OFFICIAL mosaic "$O" demo_official "$O"/demo_dither?_cal.fits
"$BENCH_VENV/bin/python" "$ROOT/bench/compare_official.py" "$D/out" "$O" --name demo --json "$WORK/compare_demo.json" > "$WORK/compare_demo.md"
# The mosaic's source catalog on the same i2d: mirical's job (forced; Snakemake's start included) and the
# official SourceCatalogStep (its import included), with the demo's APCORR and ABVEGAOFFSET files.
timed "mirical demo: source catalog (its job, forced)" "$SNAKEMAKE" out/demo_cat.ecsv --directory "$D" \
    "${SMOPTS[@]}" --forcerun source_catalog --config output_dir=out
timed "official demo: SourceCatalogStep" "$BENCH_VENV/bin/python" "$ROOT/tests/official_source_catalog.py" "$O" \
    "$D/out/demo_i2d.fits" "$D"/out/demo_data/reference/*apcorr* "$D"/out/demo_data/reference/*abvegaoffset*

# ---------------------------------------------------------------- 2. 32 exposures
if [ "${SKIP_32:-0}" != 1 ]; then
    B="$WORK/big"
    rm -rf "$B"; mkdir -p "$B/data"
    # 8 simulated dithers (the demo's maximum), each science file 4 times: 32 exposures.
    "$SNAKEMAKE" "$B/sim/out/demo_data/truth.ecsv" --directory "$B/sim" "${SMOPTS[@]}" \
        --config output_dir=out 'demo={n_dithers: 8}' > "$B/sim.log" 2>&1
    S="$B/sim/out/demo_data"
    k=0
    for copy in 1 2 3 4; do
        for f in "$S"/IMA_science/*_rate.fits; do
            k=$((k + 1))
            cp "$f" "$B/data/big_exp$(printf %02d $k)_rate.fits"
        done
    done
    cat > "$B/config.yaml" <<EOF
name: big
output_dir: out
science: ["$B/data/big_exp*_rate.fits"]
background: ["$S/IMA_background/*_rate.fits"]
$(demo_reference_files "$S")
EOF
    # shellcheck disable=SC2046
    timed "mirical 32 exposures: calibration (cal+i2d+mosaic)" "$SNAKEMAKE" $(targets out big 32) \
        --directory "$B" "${SMOPTS[@]}" --configfile "$B/config.yaml"
    timed "mirical 32 exposures: figures + summary (the rest of the default target)" "$SNAKEMAKE" \
        --directory "$B" "${SMOPTS[@]}" --configfile "$B/config.yaml"
    rm -rf "$WORK/big_run"; mkdir -p "$WORK/big_run"; cp -r "$B/out/benchmarks" "$B/out/logs" "$WORK/big_run/"
    BO="$WORK/big_official"
    rm -rf "$BO"; mkdir -p "$BO"
    (cd "$B/out" && timed "official 32 exposures: Image2Pipeline" $OFFICIAL image2 big_lvl2_asn.json "$S/reference" "$BO")
    timed "official 32 exposures: ResampleStep mosaic" $OFFICIAL mosaic "$BO" big_official "$BO"/big_dither*_cal.fits
    "$BENCH_VENV/bin/python" "$ROOT/bench/compare_official.py" "$B/out" "$BO" --name big --json "$WORK/compare_big.json" > "$WORK/compare_big.md"

    # ------------------------------------------------------------ 3. mosaic streaming: 8, 16, 32
    for n in 8 16 32; do
        # shellcheck disable=SC2046
        timed "mirical mosaic of $n (map/reduce, jobs in sequence)" "$MIRICAL_PY" "$ROOT/bench/mosaic_scaling.py" \
            "$WORK/mosaic_$n.fits" $(for i in $(seq 1 $n); do echo "$B/out/big_dither${i}_cal.fits"; done)
        # shellcheck disable=SC2046
        timed "mirical mosaic of $n (serial drizzle)" "$MIRICAL_PY" "$ROOT/bench/mosaic_scaling.py" --serial \
            "$WORK/mosaic_serial_$n.fits" $(for i in $(seq 1 $n); do echo "$B/out/big_dither${i}_cal.fits"; done)
        # shellcheck disable=SC2046
        timed "official mosaic of $n (ResampleStep)" $OFFICIAL mosaic "$WORK/official_mosaic_$n" "big$n" \
            $(for i in $(seq 1 $n); do echo "$BO/big_dither${i}_cal.fits"; done)
    done
fi

# ---------------------------------------------------------------- 4. per rule and per import
say ""
say "## Per rule, demo"
"$MIRICAL_PY" "$ROOT/bench/summarize_benchmarks.py" "$WORK/demo_run/benchmarks" | tee -a "$RESULTS"
if [ -d "$WORK/big_run/benchmarks" ]; then
    say ""
    say "## Per rule, 32 exposures"
    "$MIRICAL_PY" "$ROOT/bench/summarize_benchmarks.py" "$WORK/big_run/benchmarks" | tee -a "$RESULTS"
fi
say ""
say "## More cores"
# shellcheck disable=SC2046
"$MIRICAL_PY" "$ROOT/bench/critical_path.py" "$WORK/demo_run/benchmarks" \
    $([ -d "$WORK/big_run/benchmarks" ] && echo "$WORK/big_run/benchmarks") --demo-data "$D/out/demo_data" | tee -a "$RESULTS"
say ""
say "## Import cost per job (fresh interpreter, best of 3)"
"$MIRICAL_PY" "$ROOT/bench/import_cost.py" --json "$WORK/import_cost.json" | tee -a "$RESULTS"
say ""
say "## Planning a large association"
"$MIRICAL_PY" "$ROOT/bench/dag_scale.py" --n 1000 --demo-data "$D/out/demo_data" | tee -a "$RESULTS"
"$MIRICAL_PY" "$ROOT/bench/dag_floor.py" --n 1000 | tee -a "$RESULTS"
say ""
say "## mirical vs official (demo)"
tee -a "$RESULTS" < "$WORK/compare_demo.md"
if [ -f "$WORK/compare_big.md" ]; then
    say ""
    say "## mirical vs official (32 exposures)"
    tee -a "$RESULTS" < "$WORK/compare_big.md"
fi
# ---------------------------------------------------------------- 5. outlier detection: 8, 16, 32
if [ "${SKIP_32:-0}" != 1 ]; then
    MIRICAL_VENV="$MIRICAL_VENV" BENCH_VENV="$BENCH_VENV" CORES="$CORES" \
        bash "$ROOT/bench/outlier_scaling.sh" "$WORK" > "$WORK/outlier_scaling.log"
    say ""
    tee -a "$RESULTS" < "$WORK/outlier_results.md"
    say ""
    say "## Outlier detection's median over 32 full-frame images (time, peak memory)"
    "$MIRICAL_PY" "$ROOT/bench/outlier_median.py" 32 | tee -a "$RESULTS"
fi
# ---------------------------------------------------------------- 6. tweakreg and skymatch: 8, 32
# shellcheck disable=SC2046
MIRICAL_VENV="$MIRICAL_VENV" BENCH_VENV="$BENCH_VENV" CORES="$CORES" \
    bash "$ROOT/bench/tweakreg_skymatch.sh" "$WORK" 8 $([ "${SKIP_32:-0}" != 1 ] && echo 32) \
    > "$WORK/tweakreg_skymatch.log"
say ""
tee -a "$RESULTS" < "$WORK/tweakreg_skymatch_results.md"
"$MIRICAL_PY" "$ROOT/bench/performance_page.py" "$RESULTS"
echo "== results in $RESULTS, docs/performance.md written from them"
