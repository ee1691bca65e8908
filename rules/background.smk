rule background:
    input:
        science=science,
        backgrounds=backgrounds,
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
        **step_rule_params("background", omit=("save_combined_background",)),
    script:
        "../scripts/background.py"


# steps.background.save_combined_background: the combined background the background rule
# subtracts, written by its own job from the same inputs and parameters, so that asking for
# it (or no longer asking) re-runs nothing else. Requested by `all` for the products that
# have background members when the option is set (planning.combined_background_products).
rule combined_background:
    input:
        science=science,
        backgrounds=backgrounds,
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
        step=step_params("background", omit=("save_combined_background", "skip")),
        code=code_version("combined_background"),
    script:
        "../scripts/combined_background.py"
