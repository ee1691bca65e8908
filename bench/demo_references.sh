# Sourced by bench/like_for_like.sh, bench/outlier_scaling.sh and bench/tweakreg_skymatch.sh (all set MIRICAL_PY).
# demo_reference_files DEMO_DATA: the config's reference_files block naming the demo simulator's files
# (mirical.demo.settings.reference_paths: one per reference type of the step table).
demo_reference_files() {
    "$MIRICAL_PY" -c 'import sys
from mirical.demo.settings import DemoSettings, reference_paths
print("reference_files:")
for reftype, path in reference_paths(sys.argv[1] + "/reference", DemoSettings()).items():
    print(f"  {reftype}: {path}")' "$1"
}
