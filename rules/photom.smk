# The last calibration step: DN/s to MJy/sr. Its result is the calibrated exposure
# ({product}_cal.fits, as the official photom's), written with the provenance record of
# every reference file the product used.
rule photom:
    input:
        exposure=f"{INTER}/{{product}}_flat.fits",
        photom=ref("photom"),
        area=ref("area"),
    output:
        cal=f"{OUT}/{{product}}_cal.fits",
        refs=f"{INTER}/{{product}}_refs.json",
    params:
        step=step_params("photom"),
        errors=ref_errors(*REFTYPES),
        science=science,
        references=chosen_references,
        code=code_version("photom", "reffiles"),
    benchmark:
        f"{BENCH}/photom/{{product}}.tsv",
    log:
        f"{LOGS}/photom/{{product}}.log",
    resources:
        mem_mb=1000,
        runtime=5,
    group:
        EXPOSURE_GROUP
    conda:
        "../envs/mirical.yaml"
    script:
        "../scripts/photom.py"
