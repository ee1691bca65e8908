"""The source mask of a rate image, for a background from the science exposures.

Its own module (the rule ``background_srcmask`` calls it) so that photutils, which only the masks
need, is not in the code hash of the background step itself.
"""

from __future__ import annotations

import warnings

import numpy as np

from mirical.formats import dqflags


def source_mask(sci: np.ndarray, dq: np.ndarray, nsigma: float = 3.0, npixels: int = 5, dilate: int = 3,
                box_size: int = 64) -> np.ndarray:
    """The pixels of a rate image that hold a source (True), dilated by ``dilate`` pixels.

    The sky is a photutils Background2D (boxes of ``box_size``, 3-sigma clipped median) of the
    finite pixels without DO_NOT_USE; a source is ``npixels`` or more connected (8-connectivity)
    pixels above the sky by ``nsigma`` times its clipped RMS (photutils ``detect_sources``).
    """
    from astropy.stats import SigmaClip
    from astropy.utils.exceptions import AstropyWarning
    from photutils.background import Background2D, MedianBackground
    from photutils.segmentation import detect_sources
    from scipy.ndimage import binary_dilation

    sci = np.asarray(sci, dtype=np.float64)
    bad = ~np.isfinite(sci) | ((np.asarray(dq, dtype=np.uint32) & dqflags.DO_NOT_USE) != 0)
    box = (min(box_size, sci.shape[0]), min(box_size, sci.shape[1]))
    with warnings.catch_warnings():  # photutils' "no sources" warning: an empty mask
        warnings.simplefilter("ignore", AstropyWarning)
        sky = Background2D(np.where(bad, 0.0, sci), box, mask=bad, exclude_percentile=50.0,
                           sigma_clip=SigmaClip(sigma=3.0), bkg_estimator=MedianBackground())
        segments = detect_sources(np.where(bad, 0.0, sci - sky.background), nsigma * sky.background_rms,
                                  npixels, mask=bad)
    mask = np.zeros(sci.shape, bool) if segments is None else segments.data > 0
    if dilate > 0:
        y, x = np.mgrid[-dilate:dilate + 1, -dilate:dilate + 1]
        mask = binary_dilation(mask, structure=x * x + y * y <= dilate * dilate)
    return mask
