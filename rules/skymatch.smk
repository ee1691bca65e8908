# Stage-3 sky matching (mirical/steps/skymatch.py), as jwst's skymatch, in three rules: every rate
# product's footprint (skymatch_footprints, one job: the gwcs only), each exposure's statistics in its
# overlaps with the other sky groups (skymatch_measure, one job per product: its pixels against every
# footprint), and the levels from them (skymatch, one job: the levels table and, per product,
# {product}_skymatch.fits with BKGLEVEL, BKGSUB, BKGMETH and S_SKYMAT, which outlier detection and the
# mosaic read). skymethod user has the last only. A step that corrects the WCS before it (tweakreg)
# changes aligned_exposure.
if SKYMATCH_MEASURED:

    rule skymatch_footprints:
        input:
            cal=[stage3_start(p) for p in RATE_NAMES],
        output:
            footprints=LAYOUT.skymatch_footprints(),
        log:
            f"{LOGS}/skymatch_footprints.log",
        benchmark:
            f"{BENCH}/skymatch_footprints.tsv"
        conda:
            "../envs/mirical.yaml"
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            step=skymatch_params(SKYMATCH_FOOTPRINT_KEYS),
            products=RATE_NAMES,
            code=code_version("skymatch_footprints"),
        script:
            "../scripts/skymatch_footprints.py"

    rule skymatch_measure:
        input:
            cal=lambda wildcards: stage3_start(wildcards.product),
            footprints=rules.skymatch_footprints.output.footprints,
        output:
            stats=LAYOUT.skymatch_stats("{product}"),
        log:
            step_log("skymatch_measure"),
        benchmark:
            step_benchmark("skymatch_measure")
        conda:
            "../envs/mirical.yaml"
        resources:
            mem_mb=1500,
            runtime=10,
        params:
            step=skymatch_params(SKYMATCH_STATISTIC_KEYS),
            measured=skymatch_measured(),
            code=code_version("skymatch_measure"),
        script:
            "../scripts/skymatch_measure.py"


rule skymatch:
    input:
        **skylist_input(),
        **skymatch_inputs(),
        cal=[stage3_start(p) for p in RATE_NAMES],
    output:
        levels=LAYOUT.skymatch_levels(),
        exposures=[LAYOUT.skymatch_exposure(p) for p in RATE_NAMES],
    log:
        f"{LOGS}/skymatch.log",
    benchmark:
        f"{BENCH}/skymatch.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        step=step_params("skymatch"),
        products=RATE_NAMES,
        science=[PRODUCT[p].science for p in RATE_NAMES],
        code=code_version("skymatch"),
    script:
        "../scripts/skymatch.py"
