rule photom:
    input:
        exposure=f"{INTER}/{{product}}_flat.fits",
        photom=ref("photom"),
        area=ref("area"),
    output:
        f"{INTER}/{{product}}_photom.fits",
    params:
        step=step_params("photom"),
        errors=lambda wc: {t: ref_error(t)(wc) for t in ("photom", "area")},
        code=code_version("photom"),
    benchmark:
        f"{BENCH}/photom/{{product}}.tsv",
    log:
        f"{LOGS}/photom/{{product}}.log",
    resources:
        mem_mb=1000,
        runtime=5,
    group:
        EXPOSURE_GROUP
    script:
        "../scripts/photom.py"
