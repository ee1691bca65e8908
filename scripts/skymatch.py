"""Rule skymatch: the sky level of every exposure (one job, one exposure in memory at a time)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.formats.groups import group_names, with_group_id
    from mirical.formats.io import add_history, read_exposure, write_exposure
    from mirical.steps.skymatch import apply_level, read_footprint, solve, user_levels, write_levels

    params = snakemake.params.step
    products, paths = snakemake.params.products, list(snakemake.input.cal)
    exposures = [read_footprint(product, path, params) for product, path in zip(products, paths)]
    if params["skymethod"] == "user":
        levels = user_levels(params["skylist"], list(zip(products, snakemake.params.science)))
    else:
        levels = solve(exposures, params, log)
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
