"""Reference files: choosing one per exposure (CRDS rules) and the MIRI imager distortion."""
