"""The embedded demo: a simulated MIRI imager dither, its background and reference files."""
