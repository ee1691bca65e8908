# The embedded demo: simulated rate files, reference files and the truth table.
if DEMO is not None:

    rule simulate:
        output:
            **DEMO.references,
            science=DEMO.science,
            background=DEMO.background,
            truth=f"{DEMO.folder}/truth.ecsv",
        log:
            f"{LOGS}/simulate.log",
        benchmark:
            f"{BENCH}/simulate.tsv"
        conda:
            "../envs/mirical.yaml"
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            demo=config["demo"],
            code=code_version("simulate"),
        script:
            "../scripts/simulate.py"
