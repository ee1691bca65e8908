# steps.background.source science: the background of each rate product from the other science exposures
# of its FILTER/SUBARRAY/READPATT (and science_extra), sources masked. One mask job per rate file
# (background_srcmask), which the background jobs of the others read (SCIENCE_BACKGROUND: rules/common.smk).
# The mask's options: its jobs' params (the background jobs re-run through the masks, not their params).
MASK_KEYS = ("mask_nsigma", "mask_npixels", "mask_dilate", "mask_box_size")
# Options of the background from the science only: not params of a dedicated background's jobs.
SCIENCE_KEYS = ("source", "science_extra", "science_statistic")


def background_omit(*keys):
    """The background options that are no params of its jobs (``keys`` and the mask's, and with
    dedicated backgrounds the science source's)."""
    return keys + MASK_KEYS + (() if SCIENCE_BACKGROUND else SCIENCE_KEYS)


def background_inputs(wildcards):
    """Named inputs: the science file and its dedicated backgrounds, or the others and their source masks."""
    if SCIENCE_BACKGROUND is None:
        return {"science": science(wildcards), "backgrounds": backgrounds(wildcards)}
    others = SCIENCE_BACKGROUND.others.get(wildcards.product, [])
    return {
        "science": science(wildcards),
        "backgrounds": [],
        "others": [SCIENCE_BACKGROUND.sources[name] for name in others],
        "masks": [LAYOUT.source_mask(name) for name in others],
    }


def srcmask_rate(wildcards):
    """The rate file of a source mask (a rate product or a science_extra file)."""
    if SCIENCE_BACKGROUND is None or wildcards.product not in SCIENCE_BACKGROUND.sources:
        raise MiricalError("config", f"{wildcards.product!r} has no source mask in this run")
    return SCIENCE_BACKGROUND.sources[wildcards.product]


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
