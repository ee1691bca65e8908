# Quicklook figures (PNG) under {OUT}/plots/, each also an item of the Snakemake report.


rule plot_exposure:
    input:
        rate=science,
        cal=rules.photom.output.cal,
    output:
        report(
            LAYOUT.plot("{product}_rate_cal"),
            caption="../report/exposure.rst",
            category="Exposures",
            labels={"product": "{product}", "figure": "rate vs cal"},
        ),
    log:
        f"{LOGS}/plots/{{product}}_rate_cal.log",
    benchmark:
        f"{BENCH}/plots/{{product}}_rate_cal.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code_version("plot_exposure"),
    script:
        "../scripts/plot_exposure.py"


rule plot_steps:
    input:
        rate=science,
        bkgsub=rules.background.output.exposure,
        flat=rules.flat_field.output.exposure,
        cal=rules.photom.output.cal,
    output:
        report(
            LAYOUT.plot("{product}_steps"),
            caption="../report/steps.rst",
            category="Exposures",
            labels={"product": "{product}", "figure": "through the steps"},
        ),
    log:
        f"{LOGS}/plots/{{product}}_steps.log",
    benchmark:
        f"{BENCH}/plots/{{product}}_steps.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code_version("plot_steps"),
    script:
        "../scripts/plot_steps.py"


rule plot_mosaic:
    input:
        mosaic=rules.mosaic.output.i2d,
    output:
        sci=report(
            LAYOUT.plot(f"{NAME}_mosaic"),
            caption="../report/mosaic.rst",
            category="Mosaic",
            labels={"figure": "mosaic (SCI)"},
        ),
        wht=report(
            LAYOUT.plot(f"{NAME}_weight"),
            caption="../report/weight.rst",
            category="Mosaic",
            labels={"figure": "weight map (WHT)"},
        ),
    log:
        f"{LOGS}/plots/mosaic.log",
    benchmark:
        f"{BENCH}/plots/mosaic.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        name=NAME,
        code=code_version("plot_mosaic"),
    script:
        "../scripts/plot_mosaic.py"


rule plot_footprints:
    input:
        mosaic=rules.mosaic.output.i2d,
        cal=expand(rules.photom.output.cal, product=PRODUCT_NAMES),
    output:
        report(
            LAYOUT.plot(f"{NAME}_footprints"),
            caption="../report/footprints.rst",
            category="Mosaic",
            labels={"figure": "footprints (S_REGION)"},
        ),
    log:
        f"{LOGS}/plots/footprints.log",
    benchmark:
        f"{BENCH}/plots/footprints.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        name=NAME,
        products=PRODUCT_NAMES,
        code=code_version("plot_footprints"),
    script:
        "../scripts/plot_footprints.py"


rule plot_outliers:
    input:
        cal=rules.photom.output.cal,
        crf=rules.outlier_detection.output.crf,
    output:
        report(
            LAYOUT.plot("{product}_outliers"),
            caption="../report/outliers.rst",
            category="Exposures",
            labels={"product": "{product}", "figure": "outliers flagged"},
        ),
    log:
        f"{LOGS}/plots/{{product}}_outliers.log",
    benchmark:
        f"{BENCH}/plots/{{product}}_outliers.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code_version("plot_outliers"),
    script:
        "../scripts/plot_outliers.py"
