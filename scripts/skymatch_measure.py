"""Rule skymatch_measure: one exposure's sky statistics in its overlaps with the other sky groups."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.errors import MiricalError
    from mirical.steps.skymatch import (group_labels, header_and_wcs, measure_exposure, read_footprints, sky_groups,
                                        write_stats)

    params, (pairs, whole) = snakemake.params.step, snakemake.params.measured
    product, path = snakemake.wildcards.product, snakemake.input.cal
    exposures = read_footprints(snakemake.input.footprints, [path])
    found = [i for i, exposure in enumerate(exposures) if exposure.product == product and exposure.path == path]
    if len(found) != 1:
        raise MiricalError(snakemake.input.footprints, f"no single row of {product} ({path})")
    i = found[0]
    if pairs:  # its own gwcs and shape; the others' footprints only
        _, exposures[i].wcs, exposures[i].shape = header_and_wcs(path)
    groups = sky_groups(exposures)
    stat, npix, whole_stat = measure_exposure(i, exposures, groups, params, pairs, whole)
    own = next(g for g, members in enumerate(groups) if i in members)
    write_stats(product, group_labels(exposures, groups), own, stat, npix, whole_stat, snakemake.output.stats)
    log.info("%s: statistics against %d sky groups measured", product, int((npix > 0).sum()))


main(snakemake, run)
