"""mirical: JWST MIRI imager Stage-2 calibration as a Snakemake workflow."""

__version__ = "0.1.0"
