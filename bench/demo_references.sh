# Sourced by bench/run.sh and bench/outlier_scaling.sh.
# demo_reference_files DEMO_DATA: the config's reference_files block naming the demo simulator's files.
demo_reference_files() {
    local s=$1
    cat <<EOF2
reference_files:
  distortion: $s/reference/jwst_miri_distortion_mirical.asdf
  filteroffset: $s/reference/jwst_miri_filteroffset_mirical.asdf
  flat: $s/reference/jwst_miri_flat_f1130w_mirical.fits
  photom: $s/reference/jwst_miri_photom_mirical.fits
  area: $s/reference/jwst_miri_area_mirical.fits
EOF2
}
