"""Rule tweakreg_catalog: the sources of one cal exposure that tweakreg aligns on (or the user's catalog)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from pathlib import Path

    from mirical.formats.io import read_exposure
    from mirical.steps import for_filter
    from mirical.steps.tweakreg_catalog import (
        exposure_bounding_box,
        find_sources,
        read_user_catalog,
        within_bounding_box,
        write_catalog,
    )

    exposure = read_exposure(snakemake.input.cal, ints=False)
    params = for_filter(snakemake.params.step, exposure.get("FILTER"))
    user = snakemake.input.get("user_catalog") if params["use_custom_catalogs"] else None
    if params["use_custom_catalogs"] and not snakemake.input.get("catfile"):
        log.warning("'use_custom_catalogs' is set to True but 'catfile' contains no user catalogs. "
                    "Turning on built-in catalog creation.")
    if user:
        log.info("Using user-provided input catalog '%s'", user)
        catalog = read_user_catalog(user)
    else:
        catalog = find_sources(exposure.arrays["SCI"], exposure.arrays["ERR"], exposure.arrays["DQ"], params, log)
    catalog = within_bounding_box(catalog, exposure_bounding_box(exposure))
    name = Path(snakemake.input.cal).stem
    if len(catalog):
        log.info("Detected %d sources in %s.", len(catalog), Path(snakemake.input.cal).name)
    else:
        log.warning("No sources found in %s.", Path(snakemake.input.cal).name)
    write_catalog(catalog, snakemake.output.catalog, params["catalog_format"], name)


main(snakemake, run)
