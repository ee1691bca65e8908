"""Rule association: write the image2 association of the run."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from pathlib import Path
    from mirical.formats.association import Product, association_dict, write_json

    products = [Product(name, sci, tuple(bkgs)) for name, sci, bkgs in snakemake.params.products]
    out = Path(snakemake.output.association)
    write_json(association_dict(products, snakemake.params.name, out.parent), out)
    log.info("association %s: %d product(s)", out.name, len(products))


main(snakemake, run)
