# The source catalog of the mosaic ({name}_cat.ecsv, {name}_segm.fits) and, with
# source_catalog.i2d_catalogs, of each exposure's i2d; its APCORR and ABVEGAOFFSET are chosen
# with the first exposure's headers (the mosaic's), or each exposure's. The one pattern clash,
# {OUT}/{NAME}_cat.ecsv vs {OUT}/{product}_cat.ecsv, is settled by the ruleorder.
# Helpers: rules/common.smk (catalog_images, catalog_outputs, catalog_references, catalog_errors).
ruleorder: source_catalog > source_catalog_i2d


rule source_catalog:
    input:
        unpack(catalog_references),
        i2d=LAYOUT.mosaic(),
    output:
        **catalog_outputs(NAME),
    log:
        f"{LOGS}/source_catalog/{NAME}.log",
    benchmark:
        f"{BENCH}/source_catalog/{NAME}.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        step=CATALOG_PARAMS,
        errors=catalog_errors,
        code=code_version("source_catalog"),
    script:
        "../scripts/source_catalog.py"


rule source_catalog_i2d:
    input:
        unpack(catalog_references),
        i2d=rules.resample.output.i2d,
    output:
        **catalog_outputs("{product}"),
    log:
        f"{LOGS}/source_catalog/{{product}}.log",
    benchmark:
        f"{BENCH}/source_catalog/{{product}}.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        step=CATALOG_PARAMS,
        errors=catalog_errors,
        code=code_version("source_catalog"),
    script:
        "../scripts/source_catalog.py"
