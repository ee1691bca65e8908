# Stage-3 sky matching (mirical/steps/skymatch.py), as jwst's skymatch: one job over every rate
# product's footprint (exposures read one at a time) writes the levels table and, per product,
# {product}_skymatch.fits with BKGLEVEL, BKGSUB, BKGMETH and S_SKYMAT, which outlier detection
# and the mosaic read. A step that corrects the WCS before it (tweakreg) changes aligned_exposure.
rule skymatch:
    input:
        **skylist_input(),
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
