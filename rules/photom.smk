# The last calibration step: DN/s to MJy/sr. Its result is the calibrated exposure
# ({product}_cal.fits, as the official photom's), written with the provenance record of
# every reference file the product used.
rule photom:
    input:
        **ref_inputs("photom"),
        exposure=rules.flat_field.output.exposure,
    output:
        cal=LAYOUT.cal("{product}"),
        refs=LAYOUT.refs("{product}"),
    log:
        step_log("photom"),
    benchmark:
        step_benchmark("photom")
    group:
        EXPOSURE_GROUP
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **step_rule_params("photom", errors=REFTYPES, science=science, references=chosen_references),
    script:
        "../scripts/photom.py"


# The same step for a rateints product: every integration calibrated, the result is
# {product}_calints.fits (the official's name for a CubeModel) with the same provenance record.
# Only rateints products match it; their refs.json is this rule's (ruleorder).
use rule photom as photom_ints with:
    output:
        cal=LAYOUT.calints("{product}"),
        refs=LAYOUT.refs("{product}"),
    wildcard_constraints:
        product="|".join(re.escape(p) for p in INTS_NAMES) if INTS_NAMES else "(?!)",


ruleorder: photom_ints > photom
