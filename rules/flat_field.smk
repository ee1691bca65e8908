rule flat_field:
    input:
        **ref_inputs("flat_field"),
        exposure=rules.assign_wcs.output.exposure,
    output:
        exposure=LAYOUT.intermediate_exposure("{product}", "flat"),
    log:
        f"{LOGS}/flat_field/{{product}}.log",
    benchmark:
        f"{BENCH}/flat_field/{{product}}.tsv"
    group:
        EXPOSURE_GROUP
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        step=step_params("flat_field"),
        errors=ref_errors(*STEP["flat_field"].reftypes),
        code=code_version("flat_field"),
    script:
        "../scripts/flat_field.py"
