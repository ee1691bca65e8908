"""Rule references: record which reference files each product uses (provenance)."""
import json
from pathlib import Path

from mirical.association import write_json
from mirical.reffiles import selection_record
from mirical.runner import log, main

REFTYPES = ("distortion", "filteroffset", "flat", "photom", "area")


def run(snakemake):
    chosen = {t: str(getattr(snakemake.input, t)) for t in REFTYPES if getattr(snakemake.input, t, None)}
    record = {
        "product": snakemake.wildcards.product,
        "science": Path(snakemake.input.science).name,
        "references": selection_record(chosen),
        "errors": {t: e for t, e in snakemake.params.errors.items() if e},
    }
    write_json(record, snakemake.output[0])
    log.info("%s: %s", snakemake.wildcards.product,
             json.dumps({t: r["name"] for t, r in record["references"].items()}))


main(snakemake, run)
