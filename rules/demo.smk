# The embedded demo: simulated rate files, reference files and the truth table.
if DEMO is not None:

    rule simulate:
        output:
            science=DEMO.science,
            background=DEMO.background,
            truth=f"{DEMO.folder}/truth.ecsv",
            **DEMO.references,
        params:
            demo=config["demo"],
            code=code_version("simulate"),
        benchmark:
            f"{BENCH}/simulate.tsv",
        log:
            f"{LOGS}/simulate.log",
        resources:
            mem_mb=2000,
            runtime=10,
        script:
            "../scripts/simulate.py"
