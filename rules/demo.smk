# The embedded demo: simulated rate files, reference files and the truth table.
if USE_DEMO:

    rule simulate:
        output:
            science=DEMO_SCIENCE,
            background=DEMO_BACKGROUND,
            truth=f"{DEMO_DIR}/truth.ecsv",
            **DEMO_REFS,
        params:
            demo=config["demo"],
            code=code_version("simulate", "distortion", "assign_wcs"),
        benchmark:
            f"{BENCH}/simulate.tsv",
        log:
            f"{LOGS}/simulate.log",
        resources:
            mem_mb=2000,
            runtime=10,
        conda:
            "../envs/mirical.yaml"
        script:
            "../scripts/simulate.py"
