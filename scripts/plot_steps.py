"""Rule plot_steps: the first exposure's figures, rate vs cal and the step strip (the rate file, then each step
with a panel in the step table)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.products.plots import STEP_TITLES, rate_vs_cal, step_strip

    product = snakemake.wildcards.product
    limits = rate_vs_cal(snakemake.input.rate, snakemake.input.cal, snakemake.output.rate_cal, product)
    log.info("%s: rate vs cal quicklook %s (%s)", product, snakemake.output.rate_cal,
             "; ".join(f"{k}: {v}" for k, v in limits.items()))
    panels = [(step, getattr(snakemake.input, step)) for step in STEP_TITLES]
    limits = step_strip(panels, snakemake.output.steps, product)
    log.info("%s: step strip %s (%s)", product, snakemake.output.steps,
             "; ".join(f"{k}: {v}" for k, v in limits.items()))


main(snakemake, run)
