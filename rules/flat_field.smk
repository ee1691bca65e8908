rule flat_field:
    input:
        exposure=f"{INTER}/{{product}}_wcs.fits",
        flat=ref("flat"),
    output:
        f"{INTER}/{{product}}_flat.fits",
    params:
        step=step_params("flat_field"),
        errors=lambda wc: {"flat": ref_error("flat")(wc)},
        code=code_version("flat_field"),
    benchmark:
        f"{BENCH}/flat_field/{{product}}.tsv",
    log:
        f"{LOGS}/flat_field/{{product}}.log",
    resources:
        mem_mb=1000,
        runtime=5,
    group:
        EXPOSURE_GROUP
    script:
        "../scripts/flat_field.py"
