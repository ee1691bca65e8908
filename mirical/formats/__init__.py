"""JWST files in and out: FITS exposures, the ASDF extension, associations, DQ flags, subarrays, atomic writes."""
