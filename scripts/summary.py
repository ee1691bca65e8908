"""Rule summary: the per-product table (CSV and HTML for the report)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.products.summary import product_row, write_csv, write_html

    inputs = snakemake.input
    rows = []
    for i, product in enumerate(snakemake.params.products):
        row = product_row(product, inputs.rate[i], inputs.bkgsub[i], inputs.cal[i], inputs.refs[i])
        log.info("%s: %s %s, %s s, background %s DN/s, PHOTMJSR %s", product, row["filter"], row["subarray"],
                 row["exptime_s"], row["background_dn_s"], row["photmjsr"])
        rows.append(row)
    write_csv(rows, snakemake.output.csv)
    write_html(rows, snakemake.output.html, f"{snakemake.params.name}: calibrated products")


main(snakemake, run)
