"""Rate files written the way the official pipeline writes them (stdatamodels ImageModel.save).

Their metadata sits both in FITS keywords and in the ``ASDF`` extension
(``_fits_hash``, ``fits:SCI,1`` array references, the full ``meta`` tree), as in
MAST files; the pixel values come from mirical's simulator (`read_plain` reads
one of its files).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from stdatamodels.jwst import datamodels


def write_mast_rate(path: Path, arrays: dict, primary: fits.Header, sci: fits.Header,
                    int_times: np.ndarray | None = None, **meta_overrides) -> None:
    """A rate file as the official pipeline writes it: ImageModel with meta filled, ``.save()``;
    a rateints file (CubeModel, with its ``int_times`` table) when the arrays are 3-D.

    ``meta_overrides`` are dotted meta paths (``"instrument.name": "NIRCAM"``).
    """
    model_class = datamodels.CubeModel if arrays["SCI"].ndim == 3 else datamodels.ImageModel
    model = model_class(data=arrays["SCI"].astype(np.float32), err=arrays["ERR"].astype(np.float32),
                                  dq=arrays["DQ"].astype(np.uint32),
                                  var_poisson=arrays["VAR_POISSON"].astype(np.float32),
                                  var_rnoise=arrays["VAR_RNOISE"].astype(np.float32))
    if int_times is not None:
        model.int_times = int_times
    m = model.meta
    m.telescope = "JWST"
    m.filetype = "countrate"
    m.calibration_software_name = "jwst"
    m.calibration_software_version = "1.19.1"
    m.program.pi_name = "Mirical, Test"
    m.observation.program_number = "01234"
    m.observation.observation_number = str(primary["OBSERVTN"])
    m.observation.visit_number = "001"
    m.observation.exposure_number = "00001"
    m.observation.date = primary["DATE-OBS"]
    m.observation.time = primary["TIME-OBS"]
    m.target.proposer_name = primary["TARGNAME"]
    m.target.ra, m.target.dec = primary["TARG_RA"], primary["TARG_DEC"]
    m.instrument.name = primary["INSTRUME"]
    m.instrument.detector = primary["DETECTOR"]
    m.instrument.filter = primary["FILTER"]
    m.instrument.band = primary["BAND"]
    m.instrument.channel = primary["CHANNEL"]
    e = m.exposure
    e.type = primary["EXP_TYPE"]
    e.readpatt = primary["READPATT"]
    e.nints, e.ngroups, e.nframes, e.groupgap = (primary[k] for k in ("NINTS", "NGROUPS", "NFRAMES", "GROUPGAP"))
    e.start_time, e.mid_time, e.end_time = primary["EXPSTART"], primary["EXPMID"], primary["EXPEND"]
    e.frame_time, e.group_time = primary["TFRAME"], primary["TGROUP"]
    e.integration_time, e.duration = primary["EFFINTTM"], primary["DURATION"]
    e.effective_exposure_time = primary["EFFEXPTM"]  # XPOSURE (SCI)
    e.measurement_time = primary["TMEASURE"]
    e.elapsed_exposure_time = primary["DURATION"]  # TELAPSE (SCI)
    e.exposure_time = primary["EFFEXPTM"]  # EFFEXPTM (primary)
    s = m.subarray
    s.name = primary["SUBARRAY"]
    s.xstart, s.ystart, s.xsize, s.ysize = (primary[k] for k in ("SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2"))
    s.fastaxis, s.slowaxis = 1, 2
    m.aperture.name = primary["APERNAME"]
    m.dither.primary_type = "NONE"
    m.pointing.pa_v3 = sci["PA_V3"]
    w = m.wcsinfo
    for attr, key in (("v2_ref", "V2_REF"), ("v3_ref", "V3_REF"), ("roll_ref", "ROLL_REF"), ("ra_ref", "RA_REF"),
                      ("dec_ref", "DEC_REF"), ("vparity", "VPARITY"), ("v3yangle", "V3I_YANG"),
                      ("siaf_xref_sci", "XREF_SCI"), ("siaf_yref_sci", "YREF_SCI"),
                      ("crpix1", "CRPIX1"), ("crpix2", "CRPIX2"), ("crval1", "CRVAL1"), ("crval2", "CRVAL2"),
                      ("ctype1", "CTYPE1"), ("ctype2", "CTYPE2"), ("cunit1", "CUNIT1"), ("cunit2", "CUNIT2"),
                      ("cdelt1", "CDELT1"), ("cdelt2", "CDELT2"), ("pc1_1", "PC1_1"), ("pc1_2", "PC1_2"),
                      ("pc2_1", "PC2_1"), ("pc2_2", "PC2_2")):
        setattr(w, attr, sci[key])
    w.wcsaxes = 2
    m.coordinates.reference_frame = sci["RADESYS"]  # RADESYS (SCI)
    m.velocity_aberration.scale_factor = sci["VA_SCALE"]
    for step in ("dq_init", "saturation", "refpix", "linearity", "dark_sub", "jump", "ramp_fit"):
        setattr(m.cal_step, step, "COMPLETE")
    m.bunit_data = m.bunit_err = "DN/s"
    for dotted, value in meta_overrides.items():
        node = m
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = getattr(node, p)
        setattr(node, leaf, value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our inputs themselves must be schema-valid
        model.save(path)
    model.close()


def read_plain(path: Path) -> tuple[dict, fits.Header, fits.Header]:
    """Arrays and headers of a (mirical-simulated) rate file."""
    with fits.open(path) as hdul:
        arrays = {n: hdul[n].data.copy() for n in ("SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE")}
        return arrays, hdul[0].header.copy(), hdul["SCI"].header.copy()
