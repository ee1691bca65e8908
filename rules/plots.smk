# Quicklook figures (PNG) under {PLOTS} = {OUT}/plots/, each also an item of the Snakemake report.


rule plot_exposure:
    input:
        rate=science,
        cal=f"{OUT}/{{product}}_cal.fits",
    output:
        report(
            f"{PLOTS}/{{product}}_rate_cal.png",
            caption="../report/exposure.rst",
            category="Exposures",
            labels={"product": "{product}", "figure": "rate vs cal"},
        ),
    params:
        code=code_version("plots"),
    benchmark:
        f"{BENCH}/plots/{{product}}_rate_cal.tsv",
    log:
        f"{LOGS}/plots/{{product}}_rate_cal.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/mirical.yaml"
    script:
        "../scripts/plot_exposure.py"


rule plot_steps:
    input:
        rate=science,
        bkgsub=f"{INTER}/{{product}}_bkgsub.fits",
        flat=f"{INTER}/{{product}}_flat.fits",
        cal=f"{OUT}/{{product}}_cal.fits",
    output:
        report(
            f"{PLOTS}/{{product}}_steps.png",
            caption="../report/steps.rst",
            category="Exposures",
            labels={"product": "{product}", "figure": "through the steps"},
        ),
    params:
        code=code_version("plots"),
    benchmark:
        f"{BENCH}/plots/{{product}}_steps.tsv",
    log:
        f"{LOGS}/plots/{{product}}_steps.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/mirical.yaml"
    script:
        "../scripts/plot_steps.py"


rule plot_mosaic:
    input:
        f"{OUT}/{NAME}_i2d.fits",
    output:
        sci=report(
            f"{PLOTS}/{NAME}_mosaic.png",
            caption="../report/mosaic.rst",
            category="Mosaic",
            labels={"figure": "mosaic (SCI)"},
        ),
        wht=report(
            f"{PLOTS}/{NAME}_weight.png",
            caption="../report/weight.rst",
            category="Mosaic",
            labels={"figure": "weight map (WHT)"},
        ),
    params:
        name=NAME,
        code=code_version("plots"),
    benchmark:
        f"{BENCH}/plots/mosaic.tsv",
    log:
        f"{LOGS}/plots/mosaic.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/mirical.yaml"
    script:
        "../scripts/plot_mosaic.py"


rule plot_footprints:
    input:
        mosaic=f"{OUT}/{NAME}_i2d.fits",
        cal=expand(f"{OUT}/{{product}}_cal.fits", product=PRODUCT_NAMES),
    output:
        report(
            f"{PLOTS}/{NAME}_footprints.png",
            caption="../report/footprints.rst",
            category="Mosaic",
            labels={"figure": "footprints (S_REGION)"},
        ),
    params:
        name=NAME,
        products=PRODUCT_NAMES,
        code=code_version("plots"),
    benchmark:
        f"{BENCH}/plots/footprints.tsv",
    log:
        f"{LOGS}/plots/footprints.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/mirical.yaml"
    script:
        "../scripts/plot_footprints.py"

