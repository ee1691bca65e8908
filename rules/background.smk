# The background step (rules/common.smk: background_inputs, background_omit, srcmask_rate).
rule background:
    input:
        unpack(background_inputs),
    output:
        exposure=LAYOUT.intermediate_exposure("{product}", STEP["background"].suffix),
    log:
        step_log("background"),
    benchmark:
        step_benchmark("background")
    group:
        EXPOSURE_GROUP
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **step_rule_params("background", omit=background_omit("save_combined_background")),
    script:
        "../scripts/background.py"


rule background_srcmask:
    input:
        rate=srcmask_rate,
    output:
        mask=LAYOUT.source_mask("{product}"),
    log:
        f"{LOGS}/background_srcmask/{{product}}.log",
    benchmark:
        f"{BENCH}/background_srcmask/{{product}}.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        mask={key: step_params("background")[key] for key in MASK_KEYS},
        code=code_version("background_srcmask"),
    script:
        "../scripts/background_srcmask.py"


# steps.background.save_combined_background: the combined background the background rule
# subtracts, written by its own job from the same inputs and parameters, so that asking for
# it (or no longer asking) re-runs nothing else. Requested by `all` for the products that
# have background members when the option is set (planning.combined_background_products).
rule combined_background:
    input:
        unpack(background_inputs),
    output:
        combined=LAYOUT.combined_background("{product}"),
    log:
        f"{LOGS}/combined_background/{{product}}.log",
    group:
        EXPOSURE_GROUP
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        step=step_params("background", omit=background_omit("save_combined_background", "skip")),
        code=code_version("combined_background"),
    script:
        "../scripts/combined_background.py"
