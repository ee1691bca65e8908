# The per-product table of the run (CSV, and HTML as an item of the Snakemake report).
rule summary:
    input:
        **skymatch_levels_input(),
        **tweakreg_fit_input(),
        rate=[PRODUCT[p].science for p in PRODUCT_NAMES],
        bkgsub=expand(rules.background.output.exposure, product=PRODUCT_NAMES),
        cal=[LAYOUT.calibrated(p, PRODUCT[p].ints) for p in PRODUCT_NAMES],
        refs=expand(rules.photom.output.refs, product=PRODUCT_NAMES),
        catalogs=[LAYOUT.catalog(image) for image in catalog_images()],
    output:
        html=report(
            LAYOUT.summary("html"),
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "calibrated products"},
        ),
        csv=LAYOUT.summary("csv"),
    log:
        f"{LOGS}/summary.log",
    benchmark:
        f"{BENCH}/summary.tsv"
    localrule: True
    conda:
        "../envs/mirical.yaml"
    params:
        name=NAME,
        products=PRODUCT_NAMES,
        catalog_images=catalog_images(),
        code=code_version("summary"),
    script:
        "../scripts/summary.py"
