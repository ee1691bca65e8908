# Row and column destriping of the cal file (not an official step; steps.destripe.skip, true by default).
# Its {product}_destripe.fits (intermediate) is what resample and stage 3 read when it runs
# (calibrated_exposure in rules/common.smk); the cal file stays photom's.
rule destripe:
    input:
        exposure=rules.photom.output.cal,
    output:
        exposure=LAYOUT.intermediate_exposure("{product}", STEP["destripe"].suffix),
    log:
        step_log("destripe"),
    benchmark:
        step_benchmark("destripe")
    group:
        EXPOSURE_GROUP
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **step_rule_params("destripe"),
    script:
        "../scripts/destripe.py"
