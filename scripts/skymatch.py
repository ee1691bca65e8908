"""Rule skymatch: the sky level of every exposure from the measured statistics (one exposure in memory at a time)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.errors import MiricalError
    from mirical.formats.groups import group_names, with_group_id
    from mirical.formats.io import add_history, read_exposure, write_exposure
    from mirical.steps.skymatch import (apply_level, read_footprint, read_footprints, read_measured, solve_measured,
                                        user_levels, write_levels)

    params = snakemake.params.step
    products, paths = snakemake.params.products, list(snakemake.input.cal)
    if params["skymethod"] == "user":
        exposures = [read_footprint(product, path, params, polygon=False) for product, path in zip(products, paths)]
        levels = user_levels(params["skylist"], list(zip(products, snakemake.params.science)))
    else:
        exposures = read_footprints(snakemake.input.footprints, paths)
        if [(e.product, e.path) for e in exposures] != list(zip(products, paths)):
            raise MiricalError(snakemake.input.footprints, "its exposures are not this run's")
        levels = solve_measured(exposures, *read_measured(exposures, list(snakemake.input.stats)), params)
    rows = []
    groups = group_names([exposure.group for exposure in exposures])
    for exposure, level, out, group in zip(exposures, levels, snakemake.output.exposures, groups):
        data = read_exposure(exposure.path, ints=False)
        data.asdf = with_group_id(data.asdf, group)  # the group id the step used, as jwst's
        apply_level(data, level, exposure.prior, params)
        add_history(data, "skymatch", params)
        write_exposure(data, out)
        total = None if level is None else exposure.prior + level
        rows.append({"product": exposure.product, "file": out.rsplit("/", 1)[-1], "level": total,
                     "status": "SKIPPED" if level is None else "COMPLETE", "method": params["skymethod"],
                     "subtracted": bool(params["subtract"])})
        log.info("%s: sky level %s (%s)", exposure.product, "none" if total is None else f"{total:.6g} MJy/sr",
                 rows[-1]["status"])
    write_levels(rows, snakemake.output.levels)


main(snakemake, run)
