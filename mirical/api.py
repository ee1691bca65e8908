"""Run the mirical workflow from Python, through Snakemake's own API.

    import mirical
    mirical.make_association(sorted(glob("IMA_science/*rate.fits")), glob("IMA_background/*rate.fits"),
                             "my_galaxy", "my_galaxy_lvl2_asn.json")
    result = mirical.run("my_galaxy_lvl2_asn.json", output_dir="demo_output", cores=8,
                         steps={"resample": {"pixfrac": 0.8}})
    result["cal"]     # [".../demo_output/my_galaxy_dither1_cal.fits", ...]

This is the same workflow as ``snakemake --snakefile <mirical>/Snakefile``: the
same rules, config schema, output names and incremental re-runs (``.snakemake/``
metadata in the working directory).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mirical.errors import MiricalError, Refusal
from mirical.formats.association import make_association  # noqa: F401  (re-exported by mirical)

__all__ = ["run", "make_association", "snakefile", "WorkflowFailed"]


class WorkflowFailed(RuntimeError):
    """The Snakemake run did not complete (the job logs under ``{output_dir}/logs`` say why)."""


def snakefile() -> Path:
    """The workflow's Snakefile: ``$MIRICAL_SNAKEFILE`` or the one beside the package (a checkout)."""
    path = Path(os.environ.get("MIRICAL_SNAKEFILE") or Path(__file__).resolve().parents[1] / "Snakefile")
    if not path.is_file():
        raise MiricalError(str(path), "the mirical Snakefile is not there: run from a checkout of the "
                                      "repository (pip install -e .) or set MIRICAL_SNAKEFILE")
    return path


def is_association(path: str | os.PathLike) -> bool:
    """An image2 association (JSON with a 'products' list) rather than a YAML config."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        return False
    if path.suffix.lower() == ".json":
        return True
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and "products" in data


def build_config(asn_or_config: str | os.PathLike | Mapping | None = None, *, output_dir: str | os.PathLike | None = None,
                 steps: Mapping | None = None, mosaic: Mapping | None = None, name: str | None = None,
                 config: Mapping | None = None) -> tuple[dict, list[Path]]:
    """(config overrides, config files) as Snakemake's ``--config`` / ``--configfile`` would give them.

    An association path becomes ``association:`` (absolute, so it does not depend
    on the working directory); a YAML path is a config file merged over the
    defaults; a mapping is taken as config overrides; None runs the embedded demo.
    """
    overrides: dict[str, Any] = {}
    configfiles: list[Path] = []
    if isinstance(asn_or_config, Mapping):
        overrides.update(_plain(asn_or_config))
    elif asn_or_config is not None:
        path = Path(asn_or_config).expanduser()
        if not path.is_file():
            raise MiricalError(str(path), "no such association or config file")
        if is_association(path):
            overrides["association"] = str(path.resolve())
        else:
            configfiles.append(path.resolve())
    if config:
        _merge(overrides, _plain(config))
    if name is not None:
        overrides["name"] = str(name)
    if output_dir is not None:
        overrides["output_dir"] = os.fspath(output_dir)
    if steps:
        _merge(overrides.setdefault("steps", {}), _plain(steps))
    if mosaic:
        _merge(overrides.setdefault("mosaic", {}), _plain(mosaic))
    return overrides, configfiles


def _plain(value):
    """Mappings to dicts, tuples to lists (what YAML would give)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _merge(base: dict, extra: Mapping) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _settings_classes():
    from snakemake.settings import types as t

    # (name, class) in the order an option name is looked up
    return [
        ("execution", t.ExecutionSettings),
        ("dag", t.DAGSettings),
        ("resource", t.ResourceSettings),
        ("output", t.OutputSettings),
        ("scheduling", t.SchedulingSettings),
        ("storage", t.StorageSettings),
        ("workflow", t.WorkflowSettings),
        ("deployment", t.DeploymentSettings),
        ("remote_execution", t.RemoteExecutionSettings),
    ]


def _route_options(options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Keyword options to the Snakemake settings dataclass that has a field of that name."""
    classes = _settings_classes()
    fields = {name: {f.name: f for f in dataclasses.fields(cls)} for name, cls in classes}
    routed: dict[str, dict[str, Any]] = {name: {} for name, _ in classes}
    for key, value in options.items():
        for name, _ in classes:
            field = fields[name].get(key)
            if field is not None and field.init:
                if isinstance(value, (list, tuple, set)) and isinstance(field.default, frozenset):
                    value = frozenset(value)
                routed[name][key] = value
                break
        else:
            raise TypeError(f"mirical.run: unknown Snakemake option {key!r} (options are the fields of "
                            "snakemake.settings.types ExecutionSettings, DAGSettings, ResourceSettings, "
                            "OutputSettings, ...)")
    return routed


def run(asn_or_config: str | os.PathLike | Mapping | None = None, output_dir: str | os.PathLike | None = None,
        cores: int | str | None = "all", steps: Mapping | None = None, mosaic: Mapping | None = None, *,
        name: str | None = None, config: Mapping | None = None, workdir: str | os.PathLike | None = None,
        targets: list[str] | None = None, executor: str = "local", report: str | os.PathLike | None = None,
        **snakemake_options) -> dict:
    """Calibrate with the mirical workflow (Snakemake API) and return the products' paths.

    Parameters
    ----------
    asn_or_config
        An image2 association JSON (like the seed's ``my_galaxy_lvl2_asn.json``), a
        config YAML merged over the defaults, a dict of config values, or None for
        the embedded demo.
    output_dir
        Where the products go (relative to ``workdir``); default ``results/{name}``.
    cores
        Cores for local jobs (an int, or "all").
    steps, mosaic
        Step parameters merged over the config, e.g. ``steps={"resample": {"pixfrac": 0.8},
        "background": {"skip": True}}``, ``mosaic={"pixel_scale": 0.08}``.
    name, config
        The run's name (association/mosaic file names, ``results/{name}``; default: the
        association's file name without ``_lvl2_asn.json``, see `mirical.formats.association.run_name`)
        and any other config values.
    workdir
        Working directory of the run (relative paths, ``.snakemake/`` metadata);
        default the current directory, which is restored afterwards.
    targets
        Files or rules to make instead of everything (``rule all``).
    executor
        A Snakemake executor plugin name ("local", "slurm", ...).
    report
        After the run, write Snakemake's report there (relative to ``workdir``): a
        self-contained ``.html`` page (figures, per-product table, run statistics)
        or a ``.zip``; the same as ``snakemake --report`` afterwards.
    **snakemake_options
        Any field of Snakemake's settings dataclasses, e.g. ``keep_going=True``,
        ``forceall=True``, ``dryrun=True``, ``latency_wait=10``, ``nodes=20``,
        ``printshellcmds=True``, ``quiet={Quietness.PROGRESS}``.

    Returns
    -------
    dict
        Absolute paths: ``cal`` and ``i2d`` (lists, one per rate product, association
        order), ``calints`` (one per rateints product), ``mosaic`` (None when every
        science member is a rateints), and also ``plots``, ``summary``, ``output_dir`` and
        ``report`` (None unless asked for).

    Raises
    ------
    mirical.errors.MiricalError
        A problem with the inputs found while reading the workflow (one line naming the file).
    WorkflowFailed
        A job failed; its log under ``{output_dir}/logs`` holds the reason.
    """
    import asyncio
    import functools

    call = functools.partial(_run, asn_or_config, output_dir, cores, steps, mosaic, name=name, config=config,
                             workdir=workdir, targets=targets, executor=executor, report=report,
                             **snakemake_options)
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no event loop in this thread: run here
        return call()
    # inside a running event loop (a Jupyter notebook), where Snakemake refuses to start: in a thread of its own
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def _run(asn_or_config, output_dir, cores, steps, mosaic, *, name, config, workdir, targets, executor, report,
         **snakemake_options) -> dict:
    """`run` in the calling thread."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings import types as t

    overrides, configfiles = build_config(asn_or_config, output_dir=output_dir, steps=steps, mosaic=mosaic,
                                          name=name, config=config)
    if cores == "all" or cores is None:
        cores = os.cpu_count() or 1
    dryrun = bool(snakemake_options.pop("dryrun", False))
    routed = _route_options(snakemake_options)
    workdir = Path(workdir).resolve() if workdir is not None else Path.cwd()
    if targets:
        routed["dag"]["targets"] = frozenset(targets)

    saved_environ, saved_path = dict(os.environ), list(sys.path)
    try:
        with SnakemakeApi(t.OutputSettings(dryrun=dryrun, **routed["output"])) as api:
            try:
                workflow_api = api.workflow(
                    resource_settings=t.ResourceSettings(cores=int(cores), **routed["resource"]),
                    config_settings=t.ConfigSettings(config=overrides, configfiles=configfiles),
                    storage_settings=t.StorageSettings(**routed["storage"]),
                    workflow_settings=t.WorkflowSettings(**routed["workflow"]),
                    deployment_settings=t.DeploymentSettings(**routed["deployment"]),
                    snakefile=snakefile(),
                    workdir=workdir,
                )
                dag_api = workflow_api.dag(dag_settings=t.DAGSettings(**routed["dag"]))
                dag_api.execute_workflow(
                    executor=executor,
                    pseudo_executor="dryrun" if dryrun else None,
                    execution_settings=t.ExecutionSettings(**routed["execution"]),
                    scheduling_settings=t.SchedulingSettings(**routed["scheduling"]),
                    remote_execution_settings=t.RemoteExecutionSettings(**routed["remote_execution"]),
                )
                names = workflow_api._workflow.globals
                result = _products(names, workdir)
                result["report"] = None
                if report is not None and not dryrun:
                    from snakemake.report.html_reporter import ReportSettings

                    result["report"] = str(workdir / report)
                    dag_api.create_report(reporter="html",
                                          report_settings=ReportSettings(path=Path(result["report"])))
                return result
            except MiricalError:
                raise
            except Refusal as exc:  # the workflow refused to start: its config, inputs or output folder
                raise exc.error from None
            except Exception as exc:
                cause = _mirical_cause(exc)
                if cause is not None:
                    raise cause from None
                api.print_exception(exc)
                raise WorkflowFailed(f"the mirical workflow failed: {exc}") from exc
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
        sys.path[:] = saved_path


def _mirical_cause(exc: BaseException) -> MiricalError | None:
    """A MiricalError raised while Snakemake read the workflow (wrapped in its WorkflowError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MiricalError):
            return exc
        for inner in getattr(exc, "args", ()):
            if isinstance(inner, MiricalError):
                return inner
        exc = exc.__cause__ or exc.__context__
    return None


def _products(names: Mapping[str, Any], workdir: Path) -> dict:
    """Absolute paths of what the run made: the files of ``rule all``, by kind (mirical.workflow.planning.Layout)."""
    layout = names["LAYOUT"]
    made = {kind: [str(workdir / p) for p in paths] for kind, paths in names["outputs_by_kind"]().items()}
    return {
        "cal": made["cal"],
        "calints": made["calints"],
        "i2d": made["i2d"],
        "mosaic": made["mosaic"][0] if made["mosaic"] else None,
        "plots": made["plots"],
        "summary": made["summary"][0],
        "output_dir": str(workdir / layout.out),
    }
