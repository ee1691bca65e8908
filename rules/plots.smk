# Quicklook figures (PNG) under {OUT}/plots/, each also an item of the Snakemake report; of the
# rate products only (a calints has no figure).
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


# The first product's job draws its rate vs cal figure too: one job (one start-up) for both.
ruleorder: plot_steps > plot_exposure


rule plot_steps:
    input:
        # the step strip: the rate file, then the file of each step with a panel (mirical/steps/__init__.py)
        **{step.suffix: getattr(rules, step.name).output[0] for step in STEPS if step.panel},
        rate=science,
    output:
        rate_cal=report(
            LAYOUT.plot("{product}_rate_cal"),
            caption="../report/exposure.rst",
            category="Exposures",
            labels={"product": "{product}", "figure": "rate vs cal"},
        ),
        steps=report(
            LAYOUT.plot("{product}_steps"),
            caption="../report/steps.rst",
            category="Exposures",
            labels={"product": "{product}", "figure": "through the steps"},
        ),
    log:
        f"{LOGS}/plots/{{product}}_steps.log",
    benchmark:
        f"{BENCH}/plots/{{product}}_steps.tsv"
    wildcard_constraints:
        product=re.escape(RATE_NAMES[0]) if RATE_NAMES else "(?!)",
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code_version("plot_steps"),
    script:
        "../scripts/plot_steps.py"


# One job reads the mosaic once for its three figures (the footprints need the cal headers too).
rule plot_mosaic:
    input:
        mosaic=rules.mosaic.output.i2d,
        cal=expand(rules.photom.output.cal, product=RATE_NAMES),
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
        footprints=report(
            LAYOUT.plot(f"{NAME}_footprints"),
            caption="../report/footprints.rst",
            category="Mosaic",
            labels={"figure": "footprints (S_REGION)"},
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
        products=RATE_NAMES,
        code=code_version("plot_mosaic"),
    script:
        "../scripts/plot_mosaic.py"


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


# The mosaic with its source catalog (and, for the demo, its fluxes against the truth).
rule plot_catalog:
    input:
        unpack(lambda wildcards: {"truth": f"{DEMO.folder}/truth.ecsv"} if DEMO else {}),
        mosaic=rules.mosaic.output.i2d,
        catalog=LAYOUT.catalog(NAME),
    output:
        report(
            LAYOUT.plot(f"{NAME}_catalog"),
            caption="../report/catalog.rst",
            category="Mosaic",
            labels={"figure": "source catalog"},
        ),
    log:
        f"{LOGS}/plots/catalog.log",
    benchmark:
        f"{BENCH}/plots/catalog.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        name=NAME,
        code=code_version("plot_catalog"),
    script:
        "../scripts/plot_catalog.py"


# tweakreg's matched sources, residuals and fitted shift per exposure.
rule plot_tweakreg:
    input:
        fit=rules.tweakreg_align.output.fit,
        matches=rules.tweakreg_align.output.matches,
    output:
        report(
            LAYOUT.plot(f"{NAME}_tweakreg"),
            caption="../report/tweakreg.rst",
            category="Mosaic",
            labels={"figure": "tweakreg alignment"},
        ),
    log:
        f"{LOGS}/plots/tweakreg.log",
    benchmark:
        f"{BENCH}/plots/tweakreg.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        name=NAME,
        code=code_version("plot_tweakreg"),
    script:
        "../scripts/plot_tweakreg.py"


# The sky level skymatch found for each exposure.
rule plot_skymatch:
    input:
        levels=rules.skymatch.output.levels,
    output:
        report(
            LAYOUT.plot(f"{NAME}_skymatch"),
            caption="../report/skymatch.rst",
            category="Mosaic",
            labels={"figure": "sky level per exposure"},
        ),
    log:
        f"{LOGS}/plots/skymatch.log",
    benchmark:
        f"{BENCH}/plots/skymatch.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        name=NAME,
        code=code_version("plot_skymatch"),
    script:
        "../scripts/plot_skymatch.py"


# steps.background.source science: the first rate product's rate, background and result.
rule plot_background:
    input:
        rate=science,
        bkgsub=rules.background.output.exposure,
        mask=LAYOUT.source_mask("{product}"),
    output:
        report(
            LAYOUT.plot("{product}_background"),
            caption="../report/background.rst",
            category="Exposures",
            labels={"product": "{product}", "figure": "background from the science"},
        ),
    log:
        f"{LOGS}/plots/{{product}}_background.log",
    benchmark:
        f"{BENCH}/plots/{{product}}_background.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code_version("plot_background"),
    script:
        "../scripts/plot_background.py"


# steps.destripe: the first rate product's cal file, destriped, and the stripes removed.
rule plot_destripe:
    input:
        cal=rules.photom.output.cal,
        destripe=rules.destripe.output.exposure,
    output:
        report(
            LAYOUT.plot("{product}_destripe"),
            caption="../report/destripe.rst",
            category="Exposures",
            labels={"product": "{product}", "figure": "destripe before/after"},
        ),
    log:
        f"{LOGS}/plots/{{product}}_destripe.log",
    benchmark:
        f"{BENCH}/plots/{{product}}_destripe.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code_version("plot_destripe"),
    script:
        "../scripts/plot_destripe.py"


# mosaic.lyot mask: the first full-frame exposure as stage 3 reads it, its Lyot region hatched.
rule plot_lyotmask:
    input:
        exposure=rules.lyot_mask.output.exposure,
    output:
        report(
            LAYOUT.plot("{product}_lyotmask"),
            caption="../report/lyotmask.rst",
            category="Exposures",
            labels={"product": "{product}", "figure": "Lyot region masked"},
        ),
    log:
        f"{LOGS}/plots/{{product}}_lyotmask.log",
    benchmark:
        f"{BENCH}/plots/{{product}}_lyotmask.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code_version("plot_lyotmask"),
    script:
        "../scripts/plot_lyotmask.py"
