"""Rule simulate: write the embedded demo (rate files, reference files, truth)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from pathlib import Path
    from mirical.demo.simulate import DemoSettings, simulate

    settings = DemoSettings(**snakemake.params.demo)
    folder = Path(snakemake.output.truth).parent
    written = simulate(folder, settings)
    log.info("demo: %d science + %d background exposure(s) in %s, filter %s, subarray %s",
             len(written["science"]), len(written["background"]), folder, settings.filter, settings.subarray)


main(snakemake, run)
