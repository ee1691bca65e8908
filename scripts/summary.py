"""Rule summary: the per-product table (CSV and HTML for the report)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.products.summary import catalog_sources, product_row, tweakreg_shifts, write_csv, write_html
    from mirical.steps.skymatch import read_levels

    inputs = snakemake.input
    name = snakemake.params.name
    sources = {image: catalog_sources(path) for image, path in zip(snakemake.params.catalog_images, inputs.catalogs)}
    sky = read_levels(inputs.levels) if "levels" in inputs.keys() else None
    shifts = tweakreg_shifts(inputs.tweakreg_fit) if "tweakreg_fit" in inputs.keys() else None
    rows = []
    for i, product in enumerate(snakemake.params.products):
        row = product_row(product, inputs.rate[i], inputs.bkgsub[i], inputs.cal[i], inputs.refs[i], sky, shifts)
        log.info("%s: %s %s, %s s, background %s DN/s, PHOTMJSR %s", product, row["filter"], row["subarray"],
                 row["exptime_s"], row["background_dn_s"], row["photmjsr"])
        row["sources"] = str(sources.get(product, ""))
        rows.append(row)
    title = f"{name}: calibrated products"
    if name in sources:
        title += f"; the mosaic's source catalog ({name}_cat.ecsv): {sources[name]} sources"
        log.info("%s: %d sources in the mosaic's catalog", name, sources[name])
    write_csv(rows, snakemake.output.csv)
    write_html(rows, snakemake.output.html, title)


main(snakemake, run)
