# The per-product table of the run (CSV, and HTML as an item of the Snakemake report).
rule summary:
    input:
        rate=[PRODUCT[p].science for p in PRODUCT_NAMES],
        bkgsub=expand(f"{INTER}/{{product}}_bkgsub.fits", product=PRODUCT_NAMES),
        cal=expand(f"{OUT}/{{product}}_cal.fits", product=PRODUCT_NAMES),
        refs=expand(f"{INTER}/{{product}}_refs.json", product=PRODUCT_NAMES),
    output:
        html=report(
            f"{OUT}/{NAME}_summary.html",
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "calibrated products"},
        ),
        csv=f"{OUT}/{NAME}_summary.csv",
    params:
        name=NAME,
        products=PRODUCT_NAMES,
        code=code_version("summary"),
    benchmark:
        f"{BENCH}/summary.tsv",
    log:
        f"{LOGS}/summary.log",
    localrule: True
    conda:
        "../envs/mirical.yaml"
    script:
        "../scripts/summary.py"

