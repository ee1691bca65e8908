rule assign_wcs:
    input:
        exposure=f"{INTER}/{{product}}_bkgsub.fits",
        distortion=ref("distortion"),
        filteroffset=ref("filteroffset"),
    output:
        f"{INTER}/{{product}}_wcs.fits",
    params:
        step=step_params("assign_wcs"),
        errors=ref_errors("distortion", "filteroffset"),
        code=code_version("assign_wcs", "asdf_extension"),
    benchmark:
        f"{BENCH}/assign_wcs/{{product}}.tsv",
    log:
        f"{LOGS}/assign_wcs/{{product}}.log",
    resources:
        mem_mb=1000,
        runtime=5,
    group:
        EXPOSURE_GROUP
    conda:
        "../envs/mirical.yaml"
    script:
        "../scripts/assign_wcs.py"
