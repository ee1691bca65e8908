"""Rule plot_steps: one exposure through the steps (rate, bkgsub, flat, cal) side by side."""
from mirical.runner import log, main

STEPS = ("rate", "bkgsub", "flat", "cal")


def run(snakemake):
    from mirical.plots import step_strip

    product = snakemake.wildcards.product
    panels = [(step, getattr(snakemake.input, step)) for step in STEPS]
    limits = step_strip(panels, snakemake.output[0], product)
    log.info("%s: step strip %s (%s)", product, snakemake.output[0],
             "; ".join(f"{k}: {v}" for k, v in limits.items()))


main(snakemake, run)
