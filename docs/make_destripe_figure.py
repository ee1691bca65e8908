"""Write docs/destripe.png: destripe and mosaic.lyot on the demo with stripes.

Usage: python docs/make_destripe_figure.py MASK_RUN KEEP_RUN, the output folders of two runs of

    demo: {n_dithers: 2, subarray: FULL, n_sources: 10, stripes: 0.3}
    steps: {destripe: {skip: false}}
    mosaic: {lyot: mask}        (the second with lyot: keep)

Top: the first dither's cal file, its destripe file and their difference (the stripes removed).
Bottom: the mosaic with the Lyot region kept (as the official) and masked.
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from astropy.io import fits  # noqa: E402


def limits(image: np.ndarray, low: float = 1.0, high: float = 99.0) -> tuple[float, float]:
    finite = image[np.isfinite(image)]
    return tuple(np.percentile(finite, (low, high)))


def main(argv: list[str]) -> int:
    mask_run, keep_run = map(Path, argv)
    product = "demo_dither1"
    cal = fits.getdata(mask_run / f"{product}_cal.fits", "SCI").astype(float)
    new = fits.getdata(mask_run / "intermediate" / f"{product}_destripe.fits", "SCI").astype(float)
    rms = [fits.getval(mask_run / "intermediate" / f"{product}_destripe.fits", k) for k in ("DSTRPROW", "DSTRPCOL")]
    window = (slice(300, 700), slice(500, 900))  # 400 x 400 pixels of the imager field
    fig, axes = plt.subplots(2, 3, figsize=(12, 8.4))
    vmin, vmax = limits(cal[window])
    for ax, image, title in ((axes[0, 0], cal, "cal (before)"), (axes[0, 1], new, "destripe (after)")):
        ax.imshow(image[window], origin="lower", cmap="gray", vmin=vmin, vmax=vmax)
        ax.set_title(f"{title}, MJy/sr")
    removed = cal - new
    low, high = limits(removed[window])
    axes[0, 2].imshow(removed[window], origin="lower", cmap="RdBu_r", vmin=low, vmax=high)
    axes[0, 2].set_title(f"removed: RMS rows {rms[0]:.2f}, columns {rms[1]:.2f}")
    for ax, run, title in ((axes[1, 0], keep_run, "mosaic, lyot: keep (official)"),
                           (axes[1, 1], mask_run, "mosaic, lyot: mask")):
        mosaic = fits.getdata(run / "demo_i2d.fits", "SCI").astype(float)
        vmin, vmax = limits(mosaic)
        ax.imshow(mosaic, origin="lower", cmap="gray", vmin=vmin, vmax=vmax)
        ax.set_title(title)
    axes[1, 2].axis("off")
    axes[1, 2].text(0, 0.5, "Simulated demo: 2 full-frame dithers,\nstripes of RMS 0.3 DN/s on rows and on columns.\n"
                    "Top: a 400 x 400 pixel window of the first dither.\n"
                    "Bottom: the mosaics. With mask the Lyot\ncoronagraph's square is left out (white).\n"
                    "Left of the imager field (the 4QPMs and the\nnon-science region, which the demo does not\n"
                    "flag) destripe removes the row stripes only.", va="center")
    for ax in axes.flat[:5]:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    out = Path(__file__).with_name("destripe.png")
    fig.savefig(out, dpi=80, metadata={"Software": None})
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
