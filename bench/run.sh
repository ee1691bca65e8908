#!/usr/bin/env bash
# Every number of docs/performance.md with one command: mirical vs the official jwst pipeline.
#
#   bash bench/run.sh [WORKDIR]          (default /tmp/mirical-bench; ~1 h on 2 cores)
#
# Environment: MIRICAL_VENV (mirical's run-time venv, what `./quickstart demo` installs and
# nothing else -- no stdatamodels/jwst, whose asdf extensions every job would load -- made
# here if missing; default /work/venv-run), BENCH_VENV (the official pipeline's venv, made
# here if missing: jwst==3.0.0 from PyPI, a bench-only dependency), CORES (default 2), SKIP_32=1
# to leave out the 32-exposure runs, SKIP_STEPS=1 to leave out the step-level comparisons (sections 6
# and 7: their sections of docs/performance.md stay as their last run wrote them).
# Results: WORKDIR/results.md (+ each section's raw files beside it). Wall times depend on what
# else the machine runs: the load average is recorded with each number, and so is the CPU time
# (user+sys of the whole process tree), which contention changes much less.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(realpath -m "${1:-/tmp/mirical-bench}")
export MIRICAL_VENV=${MIRICAL_VENV:-/work/venv-run}
export BENCH_VENV=${BENCH_VENV:-/work/bench-venv}
export CORES=${CORES:-2}
MIRICAL_PY="$MIRICAL_VENV/bin/python"
SNAKEMAKE="$MIRICAL_VENV/bin/snakemake"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONWARNINGS=ignore

if [ ! -x "$MIRICAL_PY" ] || ! "$MIRICAL_PY" -c "import mirical, snakemake" 2>/dev/null; then
    echo "== making $MIRICAL_VENV (mirical, run-time dependencies only)"
    python3 -m venv "$MIRICAL_VENV"
    "$MIRICAL_VENV/bin/pip" install -q -e "$ROOT"
fi
if [ ! -x "$BENCH_VENV/bin/python" ] || ! "$BENCH_VENV/bin/python" -c "import jwst" 2>/dev/null; then
    echo "== making $BENCH_VENV (jwst==3.0.0)"
    python3 -m venv "$BENCH_VENV"
    "$BENCH_VENV/bin/pip" install -q "jwst==3.0.0"
fi

mkdir -p "$WORK"
RESULTS="$WORK/results.md"
: > "$RESULTS"
say() { echo "$*" | tee -a "$RESULTS"; }
section() { say ""; tee -a "$RESULTS" < "$1"; }

say "# mirical benchmark $(date -u +%FT%TZ)"
say ""
say "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(lscpu | grep 'Model name' | sed 's/ \+/ /g')"
say "mirical $("$MIRICAL_PY" -c 'import mirical; print(mirical.__version__)'), snakemake $("$SNAKEMAKE" --version), jwst $("$BENCH_VENV/bin/python" -c 'import jwst; print(jwst.__version__)')"
say "code: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+changes')"

# ---------------------------------------------------------------- 1. like for like: demo, 8, 32
if [ "${SKIP_32:-0}" = 1 ]; then SIZES=(demo 8); else SIZES=(demo 8 32); fi
bash "$ROOT/bench/like_for_like.sh" "$WORK" "${SIZES[@]}" > "$WORK/like_for_like.log"
section "$WORK/like_for_like_results.md"
LARGEST=${SIZES[-1]}
# the official's wall (both processes) and mirical's start and planning at the largest size
official_wall=$(awk -F'\t' -v n="$LARGEST" '$1 == n && $2 == "official" {s += $4} END {print s}' "$WORK/like_for_like.tsv")
fixed=$(awk -F'\t' -v n="$LARGEST" '$1 == n && $3 ~ /^start and planning/ {print $4}' "$WORK/like_for_like.tsv")

# ---------------------------------------------------------------- 2. per rule
for size in demo "$LARGEST"; do
    say ""
    say "## Per rule, $size (default target)"
    say ""
    "$MIRICAL_PY" "$ROOT/bench/summarize_benchmarks.py" "$WORK/like_for_like_$size/out/benchmarks" | tee -a "$RESULTS"
done

# ---------------------------------------------------------------- 3. more cores
say ""
say "## More cores"
say ""
# shellcheck disable=SC2046
"$MIRICAL_PY" "$ROOT/bench/critical_path.py" $(for s in "${SIZES[@]:1}"; do echo "$WORK/like_for_like_$s/out/benchmarks"; done) \
    --demo-data "$WORK/demo_sim/out/demo_data" --n "$LARGEST" 128 --cores "$CORES" 8 32 --fixed "$fixed" \
    --official "$LARGEST=$official_wall" | tee -a "$RESULTS"

# ---------------------------------------------------------------- 4. imports and planning
say ""
say "## Import cost per job (fresh interpreter, best of 3)"
say ""
"$MIRICAL_PY" "$ROOT/bench/import_cost.py" --json "$WORK/import_cost.json" | tee -a "$RESULTS"
say ""
say "## Planning a large association"
say ""
"$MIRICAL_PY" "$ROOT/bench/dag_scale.py" --n 1000 --demo-data "$WORK/demo_sim/out/demo_data" | tee -a "$RESULTS"
"$MIRICAL_PY" "$ROOT/bench/dag_floor.py" --n 1000 | tee -a "$RESULTS"

# ---------------------------------------------------------------- 5. the products, mirical vs official
for size in demo "$LARGEST"; do
    W="$WORK/like_for_like_$size"
    name=$(awk '/^name:/{print $2}' "$W/config.yaml")
    "$BENCH_VENV/bin/python" "$ROOT/bench/compare_official.py" "$W/out" "$W/official" --name "$name" \
        --json "$WORK/compare_$size.json" > "$WORK/compare_$size.md"
    say ""
    say "## mirical vs official ($size)"
    section "$WORK/compare_$size.md"
done

# ---------------------------------------------------------------- 6. outlier detection: 8, 16, 32
if [ "${SKIP_STEPS:-0}" = 1 ]; then
    "$MIRICAL_PY" "$ROOT/bench/performance_page.py" --keep-missing "$RESULTS"
    echo "== results in $RESULTS, docs/performance.md written from them (step-level sections kept)"
    exit 0
fi
if [ "${SKIP_32:-0}" != 1 ]; then
    bash "$ROOT/bench/outlier_scaling.sh" "$WORK" > "$WORK/outlier_scaling.log"
    section "$WORK/outlier_results.md"
    say ""
    say "## Outlier detection's median over 32 full-frame images (time, peak memory)"
    say ""
    "$MIRICAL_PY" "$ROOT/bench/outlier_median.py" 32 | tee -a "$RESULTS"
fi
# ---------------------------------------------------------------- 7. tweakreg and skymatch: 8, 32
# shellcheck disable=SC2046
bash "$ROOT/bench/tweakreg_skymatch.sh" "$WORK" 8 $([ "${SKIP_32:-0}" != 1 ] && echo 32) > "$WORK/tweakreg_skymatch.log"
section "$WORK/tweakreg_skymatch_results.md"
"$MIRICAL_PY" "$ROOT/bench/performance_page.py" "$RESULTS"
echo "== results in $RESULTS, docs/performance.md written from them"
