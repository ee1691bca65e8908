"""Rule outlier_detection: one cal exposure compared with the blotted median; outliers flagged in its crf file."""
from mirical.workflow.runner import log, main


def run(snakemake):
    import numpy as np
    from astropy.io import fits
    from mirical.errors import MiricalError
    from mirical.formats.groups import stage3_group_id, with_group_id
    from mirical.formats.io import add_history, read_exposure, write_exposure
    from mirical.steps import set_step_status
    from mirical.steps.outlier_detection import detect_exposure, detect_unresampled

    params = snakemake.params.step
    exposure = read_exposure(snakemake.input.cal)
    with fits.open(snakemake.input.median) as hdul:
        median = np.asarray(hdul["SCI"].data, np.float32)
    if params["resample_data"]:
        from mirical.drizzle.exposure_map import read_exposure_map

        # the exposure's pixel map onto the median's grid, as its single-exposure drizzle computed it
        pixmap = read_exposure_map(snakemake.input.pixmap).pixmap
        if pixmap.shape[:2] != exposure.shape:
            raise MiricalError(snakemake.input.pixmap, f"its {pixmap.shape[:2]} pixels differ from the "
                               f"exposure's {exposure.shape}")
        count = detect_exposure(exposure, pixmap, median, params)
    else:
        count = detect_unresampled(exposure, median, params)
    # the crf file keeps the group id the step used, as jwst's
    exposure.asdf = with_group_id(exposure.asdf, stage3_group_id(exposure.primary, exposure.asdf,
                                                                 snakemake.params.member))
    set_step_status(exposure, "outlier_detection", "COMPLETE")
    add_history(exposure, "outlier_detection", params)
    write_exposure(exposure, snakemake.output.crf)
    log.info("%s: %d pixels marked as outliers", snakemake.wildcards.product, count)


main(snakemake, run)
