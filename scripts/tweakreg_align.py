"""Rule tweakreg_align: one fit of every exposure's WCS on their sources (and an absolute catalog), the fit table."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from astropy.io import fits

    from mirical.steps import for_filter
    from mirical.steps.tweakreg import (
        FIT_COLUMNS,
        MATCH_COLUMNS,
        align,
        fit_rows,
        match_rows,
        read_abs_refcat,
        read_input,
        write_table,
    )

    cals, catalogs = list(snakemake.input.cal), list(snakemake.input.catalogs)
    params = for_filter(snakemake.params.step, fits.getval(cals[0], "FILTER"))
    inputs = [read_input(p, cal, cat) for p, cal, cat in zip(snakemake.params.products, cals, catalogs)]
    abs_refcat = snakemake.input.get("abs_refcat")
    refcat = read_abs_refcat(abs_refcat) if abs_refcat else None
    correctors, done, why = align(inputs, params, refcat)
    if not done:
        log.warning("%s", why)
    rows = fit_rows(inputs, correctors, done, abs_refcat)
    for row in rows:
        log.info("%s: %s (%s), shift %.4f %.4f arcsec, rotation %.5f deg, %d matches", row["product"], row["status"],
                 row["fit_status"], row["xshift"], row["yshift"], row["rotation"], row["nmatches"])
    meta = {"status": "COMPLETE" if done else "SKIPPED", "warning": why or "",
            "fitgeometry": params["fitgeometry"], "abs_refcat": abs_refcat or ""}
    write_table(rows, FIT_COLUMNS, snakemake.output.fit, meta)
    write_table(match_rows(inputs, correctors, done), MATCH_COLUMNS, snakemake.output.matches)


main(snakemake, run)
