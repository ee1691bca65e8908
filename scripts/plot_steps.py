"""Rule plot_steps: the first exposure's figures, rate vs cal and the step strip (the rate file, then each step
with a panel in the step table)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.products.plots import STEP_TITLES, rate_vs_cal, read_image, step_strip

    product = snakemake.wildcards.product
    images = {step: read_image(getattr(snakemake.input, step)) for step in ("rate", "cal")}  # in both figures
    limits = rate_vs_cal(images["rate"], images["cal"], snakemake.output.rate_cal, product)
    log.info("%s: rate vs cal quicklook %s (%s)", product, snakemake.output.rate_cal,
             "; ".join(f"{k}: {v}" for k, v in limits.items()))
    panels = [(step, images.get(step) or getattr(snakemake.input, step)) for step in STEP_TITLES]
    limits = step_strip(panels, snakemake.output.steps, product)
    log.info("%s: step strip %s (%s)", product, snakemake.output.steps,
             "; ".join(f"{k}: {v}" for k, v in limits.items()))


main(snakemake, run)
