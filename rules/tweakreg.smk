# Stage-3 alignment (mirical/steps/tweakreg_catalog.py, mirical/steps/tweakreg.py), as jwst's tweakreg:
# each exposure's sources (tweakreg_catalog, one job per product), one fit of all exposures with
# tweakwcs (tweakreg_align, the fit table), and each cal file's gwcs corrected by its row of the
# table (tweakreg, one job per product), which skymatch reads through aligned_exposure.
rule tweakreg_catalog:
    input:
        unpack(tweakreg_catalog_inputs),
    output:
        catalog=LAYOUT.tweakreg_catalog("{product}", step_params("tweakreg")["catalog_format"]),
    log:
        f"{LOGS}/tweakreg_catalog/{{product}}.log",
    benchmark:
        f"{BENCH}/tweakreg_catalog/{{product}}.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        step=tweakreg_params(TWEAKREG_CATALOG_KEYS),
        code=code_version("tweakreg_catalog"),
    script:
        "../scripts/tweakreg_catalog.py"


rule tweakreg_align:
    input:
        **abs_refcat_input(),
        cal=[LAYOUT.cal(p) for p in RATE_NAMES],
        catalogs=expand(rules.tweakreg_catalog.output.catalog, product=RATE_NAMES),
    output:
        fit=LAYOUT.tweakreg_fit(),
        matches=LAYOUT.tweakreg_matches(),
    log:
        f"{LOGS}/tweakreg_align.log",
    benchmark:
        f"{BENCH}/tweakreg_align.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        step=tweakreg_params(TWEAKREG_FIT_KEYS),
        products=RATE_NAMES,
        code=code_version("tweakreg_align"),
    script:
        "../scripts/tweakreg_align.py"


rule tweakreg:
    input:
        cal=LAYOUT.cal("{product}"),
        fit=rules.tweakreg_align.output.fit,
    output:
        exposure=LAYOUT.tweakreg_exposure("{product}"),
    log:
        step_log("tweakreg"),
    benchmark:
        step_benchmark("tweakreg")
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        step={key: step_params("tweakreg")[key] for key in TWEAKREG_APPLY_KEYS + ("skip",)},
        code=code_version("tweakreg"),
    script:
        "../scripts/tweakreg.py"
