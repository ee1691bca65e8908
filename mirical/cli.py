"""The ``mirical`` command: a thin front end to ``snakemake --snakefile <mirical>/Snakefile``.

    mirical run my_galaxy_lvl2_asn.json --output-dir demo_output
    mirical run my_galaxy_lvl2_asn.json --output-dir demo_output --set steps.resample.pixfrac=0.8 --cores 8
    mirical run mine.yaml                       # a config file (science/background globs, references, ...)
    mirical run --demo --output-dir demo_output # the embedded simulated demo
    mirical run asn.json --output-dir out --report report.html   # then the Snakemake report
    mirical run asn.json --output-dir out -- --dry-run           # anything after -- goes to snakemake

It builds the Snakemake command line (printed before it runs), so every
Snakemake option, profile and executor works as with ``snakemake`` itself.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from mirical import __version__

EPILOG = """\
Arguments after `--` are passed to snakemake unchanged, e.g.
  mirical run asn.json --output-dir out -- --dry-run
  mirical run asn.json --output-dir out -- --report report.html   (report only, no run)
  mirical run asn.json --output-dir out -- --executor slurm --jobs 50
"""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="mirical", description="JWST MIRI imager Stage-2 calibration "
                                  "(calwebb_image2) as a Snakemake workflow.")
    top.add_argument("--version", action="version", version=f"mirical {__version__}")
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="calibrate an association, a config, or the demo",
                         description="Run the mirical workflow with Snakemake.", epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("input", nargs="?", help="an image2 association (JSON) or a config file (YAML)")
    run.add_argument("--demo", action="store_true", help="run the embedded simulated demo")
    run.add_argument("-o", "--output-dir", help="output folder (default results/{name})")
    run.add_argument("--name", help="run name: {name}_lvl2_asn.json, {name}_i2d.fits mosaic, results/{name}/ "
                     "(default: the association's file name without _lvl2_asn.json/_asn.json; see config.yaml)")
    run.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="set one config value, e.g. steps.resample.pixfrac=0.8 (repeatable)")
    run.add_argument("--configfile", action="append", default=[], metavar="YAML",
                     help="extra config file merged over the defaults (repeatable)")
    run.add_argument("-c", "--cores", default="all", help="cores for local jobs (default: all)")
    run.add_argument("--report", metavar="HTML",
                     help="after the run, write the Snakemake report (figures, table, run statistics) "
                          "there: a self-contained .html page, or a .zip")
    run.add_argument("--directory", metavar="DIR",
                     help="working directory (relative paths, .snakemake/ metadata); default: here")
    run.add_argument("--print-only", action="store_true",
                     help="print the snakemake command instead of running it")
    return top


def snakemake_command(args: argparse.Namespace, extra: list[str]) -> list[str]:
    """The ``python -m snakemake ...`` argument list for parsed ``mirical run`` arguments."""
    from mirical.api import build_config, snakefile
    from mirical.workflow.config import set_option

    if args.demo and args.input:
        raise SystemExit("mirical run: give an association/config file or --demo, not both")
    if not args.demo and not args.input:
        raise SystemExit("mirical run: give an association (JSON) or config (YAML) file, or --demo")
    sets: dict = {}
    for item in args.sets:
        try:
            set_option(sets, item)
        except ValueError as exc:
            raise SystemExit(f"mirical run: {exc}") from None
    overrides, configfiles = build_config(args.input, output_dir=args.output_dir, name=args.name, config=sets)
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile()), "--cores", str(args.cores)]
    if args.directory:
        cmd += ["--directory", args.directory]
    configfiles += [Path(p).resolve() for p in args.configfile]
    if configfiles:
        cmd += ["--configfile", *map(str, configfiles)]
    if args.report:
        cmd += ["--report", args.report, "--report-after-run"]
    if overrides:
        cmd += ["--config", *(f"{key}={_yaml_value(value)}" for key, value in overrides.items())]
    return cmd + extra


def _yaml_value(value) -> str:
    """A config value as Snakemake's ``--config`` reads it back.

    None is the empty value; a string is quoted only where Snakemake would read
    it as something else (a number, True/False, YAML structure); anything else
    is flow YAML (Snakemake reads nested values as text and the Snakefile
    re-types them: '0.8' -> 0.8).
    """
    import yaml

    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'" if _misread(value) else value
    return yaml.safe_dump(value, default_flow_style=True, width=1 << 30).strip()


def _misread(text: str) -> bool:
    """Would Snakemake's --config parser (int, float, True/False, YAML) turn ``text`` into something else?"""
    import yaml

    for parse in (int, float):
        try:
            parse(text)
            return True
        except ValueError:
            pass
    if text in ("True", "False", ""):
        return True
    try:
        return yaml.load(text, Loader=yaml.BaseLoader) != text
    except yaml.YAMLError:
        return True


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    args = parser().parse_args(argv)
    from mirical.errors import MiricalError

    try:
        cmd = snakemake_command(args, extra)
    except MiricalError as exc:
        print(f"mirical: {exc}", file=sys.stderr)
        return 2
    if args.print_only:
        print(shlex.join(cmd))
        return 0
    print("mirical:", shlex.join(cmd), file=sys.stderr, flush=True)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:  # snakemake got the signal too and cleans up its jobs
        return 130


if __name__ == "__main__":
    sys.exit(main())
