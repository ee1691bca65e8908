# The last calibration step: DN/s to MJy/sr. Its result is the calibrated exposure
# ({product}_cal.fits, as the official photom's), written with the provenance record of
# every reference file the product used.
rule photom:
    input:
        exposure=rules.flat_field.output.exposure,
        **ref_inputs("photom"),
    output:
        cal=LAYOUT.cal("{product}"),
        refs=LAYOUT.refs("{product}"),
    params:
        step=step_params("photom"),
        errors=ref_errors(*REFTYPES),
        science=science,
        references=chosen_references,
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
