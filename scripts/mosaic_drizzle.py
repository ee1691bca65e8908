"""Rule mosaic_drizzle: one cal exposure drizzled alone onto its crop of the mosaic grid."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.steps.mosaic import drizzle_part, read_grid, write_part

    grid = read_grid(snakemake.input.grid)
    part = drizzle_part(snakemake.input.cal, grid, snakemake.params.step)
    write_part(part, grid, snakemake.output.part, snakemake.input.cal)
    ny, nx = part.arrays["SCI"].shape
    log.info("%s: drizzled onto grid columns %d-%d, rows %d-%d", snakemake.wildcards.product,
             part.x0, part.x0 + nx - 1, part.y0, part.y0 + ny - 1)


main(snakemake, run)
