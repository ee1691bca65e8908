"""Re-running only what changed, byte-identical outputs, and planning a 1000-exposure association.

One complete run of a small user-data config (the reduced demo's 2 science + 1
background rate files and its reference files, copied to a data folder) is the
base. Each change is then planned with `snakemake -n`; the planned jobs must be
exactly the jobs the change touches directly plus everything downstream of them
in the complete DAG (`-n --forceall`), and the pipeline steps are also checked
by name, so a new downstream rule (plots, summaries) cannot hide a wrong re-run.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits

from conftest import REPO, SNAKEFILE
from large_association import job_counts, write_large_association
from mirical.steps import IMAGE_REFTYPES, REFTYPES

pytestmark = pytest.mark.workflow

CHAIN = ("background", "assign_wcs", "flat_field", "photom", "resample")  # per product
# The mosaic: one grid, one drizzle per product (its part), one sum (rules/mosaic.smk).
MOSAIC = ("mosaic_grid", "mosaic_drizzle", "mosaic")
# Outlier detection before it: its grid, single-exposure images, median and crf files (rules/outlier_detection.smk).
OUTLIER = ("outlier_grid", "outlier_drizzle", "outlier_median", "outlier_detection")
# Sky matching before it: the footprints, each exposure's statistics, the levels (rules/skymatch.smk).
SKY = ("skymatch_footprints", "skymatch_measure", "skymatch")
# The alignment before that: a catalog per product, one fit, a corrected file per product (rules/tweakreg.smk).
TWEAK = ("tweakreg_catalog", "tweakreg_align", "tweakreg")
PIPELINE = CHAIN + ("association",) + TWEAK + SKY + OUTLIER + MOSAIC
PRODUCTS = ("rr_dither1", "rr_dither2")
COMPARED = (".fits", ".json", ".ecsv", ".asdf")


# ----------------------------------------------------------------- running and parsing Snakemake
def snakemake(workdir: Path, *args: str, snakefile: Path = SNAKEFILE, check: bool = True,
              env: dict[str, str] | None = None) -> str:
    """Run Snakemake in ``workdir`` (``env``: extra environment variables); returns stdout + stderr."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--directory", str(workdir),
           "--cores", "2", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({' '.join(cmd)}):\n{output[-6000:]}")
    return output


@dataclass(frozen=True)
class Job:
    rule: str
    wildcards: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    reason: str

    @property
    def key(self) -> tuple[str, str]:
        return self.rule, self.wildcards


_HEADER = re.compile(r"^( *)(?:local)?(?:rule|checkpoint) (\w+):$")
_FIELD = re.compile(r"^( +)(\w+): ?(.*)$")


def parse_jobs(output: str) -> dict[tuple[str, str], Job]:
    """The jobs a Snakemake dry run prints (grouped ones indented): {(rule, wildcards): Job}."""
    jobs = {}
    lines = output.splitlines()
    i = 0
    while i < len(lines):
        match = _HEADER.match(lines[i])
        i += 1
        if not match:
            continue
        fields = {}
        while i < len(lines) and (field := _FIELD.match(lines[i])) and len(field[1]) > len(match[1]):
            fields[field[2]] = field[3]
            i += 1

        def files(name):
            return tuple(f for f in fields.get(name, "").split(", ") if f)

        job = Job(match[2], fields.get("wildcards", ""), files("input"), files("output"), fields.get("reason", ""))
        jobs[job.key] = job
    if not jobs:
        assert "Nothing to be done" in output, output[-3000:]
    return jobs


def plan(workdir: Path, *args: str, snakefile: Path = SNAKEFILE,
         env: dict[str, str] | None = None) -> dict[tuple[str, str], Job]:
    """The jobs `snakemake -n` would run."""
    return parse_jobs(snakemake(workdir, "-n", *args, snakefile=snakefile, env=env))


def downstream(dag: dict[tuple[str, str], Job], start: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """``start`` and every job of ``dag`` that depends on one of them, directly or not."""
    producer = {f: key for key, job in dag.items() for f in job.outputs}
    consumers = defaultdict(set)
    for key, job in dag.items():
        for f in job.inputs:
            if f in producer:
                consumers[producer[f]].add(key)
    seen, todo = set(start), list(start)
    while todo:
        for key in consumers[todo.pop()] - seen:
            seen.add(key)
            todo.append(key)
    return seen


def steps(jobs) -> list[tuple[str, str]]:
    """(rule, product) of the pipeline jobs among ``jobs``, sorted."""
    return sorted((rule, wildcards.removeprefix("product=")) for rule, wildcards in jobs if rule in PIPELINE)


def chain(product: str, first: str = "background") -> list[tuple[str, str]]:
    return [(rule, product) for rule in CHAIN[CHAIN.index(first):]]


def mosaic_jobs(*products: str) -> list[tuple[str, str]]:
    """The mosaic's jobs: the grid, the sum, and the drizzle of each of ``products``."""
    return [("mosaic_grid", ""), ("mosaic", "")] + [("mosaic_drizzle", p) for p in products]


def flagging_jobs() -> list[tuple[str, str]]:
    """What new flagging re-runs: every crf file, and the mosaic's drizzles and sum (not its grid)."""
    return [(rule, p) for p in PRODUCTS for rule in ("outlier_detection", "mosaic_drizzle")] + [("mosaic", "")]


def tweak_jobs(*catalogs: str) -> list[tuple[str, str]]:
    """What new cal files (or a new fit) re-run of tweakreg: the catalogs of ``catalogs``, the fit and every
    corrected file (each reads the fit table)."""
    return [("tweakreg_catalog", p) for p in catalogs] + [("tweakreg_align", "")] + [("tweakreg", p) for p in PRODUCTS]


def stage3_jobs(catalogs: tuple[str, ...] = PRODUCTS) -> list[tuple[str, str]]:
    """What a new cal file re-runs: tweakreg (the catalogs of ``catalogs``), skymatch, all of outlier detection
    (its grid comes from every footprint, as the mosaic's) and the mosaic."""
    return (tweak_jobs(*catalogs) + sky_jobs() + [("outlier_grid", ""), ("outlier_median", "")]
            + [(rule, p) for p in PRODUCTS for rule in ("outlier_drizzle", "outlier_detection")]
            + mosaic_jobs(*PRODUCTS))


def after_skymatch() -> list[tuple[str, str]]:
    """`stage3_jobs` but tweakreg and skymatch: what a change to the drizzle or outlier code re-runs."""
    return [job for job in stage3_jobs() if job[0] not in TWEAK + SKY]


def sky_jobs(first: str = "skymatch_footprints") -> list[tuple[str, str]]:
    """skymatch's jobs from rule ``first`` on: the footprints, each product's statistics, the levels."""
    jobs = [("skymatch_footprints", "")] + [("skymatch_measure", p) for p in PRODUCTS] + [("skymatch", "")]
    return [job for job in jobs if SKY.index(job[0]) >= SKY.index(first)]


def skymatch_jobs(first: str = "skymatch_footprints") -> list[tuple[str, str]]:
    """What new sky levels re-run: skymatch (from rule ``first`` on), outlier detection and the mosaic, not their
    grids."""
    return sky_jobs(first) + [("outlier_median", ""), ("mosaic", "")] + [
        (rule, p) for p in PRODUCTS for rule in ("outlier_drizzle", "outlier_detection", "mosaic_drizzle")]


def reading(dag, workdir: Path, path: Path) -> set[tuple[str, str]]:
    """Jobs of ``dag`` with ``path`` among their inputs."""
    path = os.path.realpath(path)
    return {key for key, job in dag.items()
            if any(os.path.realpath(workdir / f) == path for f in job.inputs)}


def assert_plan(planned, dag, direct, expected_steps):
    """The plan is ``direct`` plus its downstream closure, and its pipeline jobs are ``expected_steps``."""
    assert steps(planned) == sorted(expected_steps)
    assert set(planned) == downstream(dag, direct), \
        f"planned {sorted(planned)}\nexpected {sorted(downstream(dag, direct))}"


def params_changed(job: Job) -> bool:
    """Its params changed: one of the reasons Snakemake names (with a new set of inputs first, if that too)."""
    return any(reason.startswith("Params have changed") for reason in job.reason.split("; "))


def assert_params_changed(planned, dag, direct):
    """Each job of ``direct`` that no other job of ``direct`` feeds is planned because its params changed.

    (Snakemake names one reason per job: the others say "Input files updated by another job".)
    """
    roots = {key for key in direct if key not in downstream(dag, direct - {key})}
    assert roots
    for key in roots:
        assert params_changed(planned[key]), (key, planned[key].reason)


# ----------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def user_config(demo_run, tmp_path_factory) -> Path:
    """The reduced demo's rate and reference files as user data (absolute paths), and its config."""
    root = tmp_path_factory.mktemp("user")
    data = root / "data"
    shutil.copytree(demo_run / "demo_data" / "IMA_science", data / "science")
    shutil.copytree(demo_run / "demo_data" / "IMA_background", data / "background")
    shutil.copytree(demo_run / "demo_data" / "reference", data / "reference")
    refs = {t: str(next((data / "reference").glob(f"jwst_miri_{t}_*"))) for t in REFTYPES + IMAGE_REFTYPES}
    config = {
        "name": "rr",
        "output_dir": "out",
        "science": [str(data / "science" / "*_rate.fits")],
        "background": [str(data / "background" / "*_rate.fits")],
        "reference_files": refs,
    }
    path = root / "rr.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def complete_run(user_config, tmp_path_factory) -> Path:
    """Working directory of a complete run of the user config (2 cores)."""
    workdir = tmp_path_factory.mktemp("run_a")
    snakemake(workdir, "--configfile", str(user_config))
    return workdir


@pytest.fixture(scope="module")
def full_dag(complete_run, user_config) -> dict[tuple[str, str], Job]:
    """Every job of the workflow (`-n --forceall`)."""
    dag = plan(complete_run, "--configfile", str(user_config), "--forceall")
    assert steps(dag) == sorted([("association", "")] + stage3_jobs()
                                + [(r, p) for p in PRODUCTS for r in CHAIN])
    return dag


def with_override(user_config: Path, tmp_path: Path, override: dict) -> tuple[str, ...]:
    """Snakemake arguments: the user config plus an override file merged over it."""
    path = tmp_path / "override.yaml"
    path.write_text(yaml.safe_dump(override))
    return "--configfile", str(user_config), str(path)


class Changed:
    """Rewrite a file (new content, mtime now) for a `with` block, then put back its bytes and mtime."""

    def __init__(self, path: Path, edit):
        self.path, self.edit = Path(path), edit

    def __enter__(self):
        self.original = self.path.read_bytes()
        self.stat = self.path.stat()
        self.edit(self.path)
        assert self.path.read_bytes() != self.original
        os.utime(self.path)  # now: newer than every output of the complete run
        return self.path

    def __exit__(self, *exc):
        self.path.write_bytes(self.original)
        os.utime(self.path, ns=(self.stat.st_atime_ns, self.stat.st_mtime_ns))


# ----------------------------------------------------------------- 1. re-run only what changed
def test_complete_run_leaves_nothing_to_do(complete_run, user_config):
    assert plan(complete_run, "--configfile", str(user_config)) == {}


def test_resample_parameter_reruns_only_resample(complete_run, user_config, full_dag, tmp_path):
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"steps": {"resample": {"pixfrac": 0.5}}}))
    direct = {key for key in full_dag if key[0] == "resample"}
    assert_plan(planned, full_dag, direct, [("resample", p) for p in PRODUCTS])
    for key in direct:
        assert planned[key].reason.startswith("Params have changed"), planned[key].reason
        assert "'pixfrac': 0.5" in planned[key].reason
    assert ("all", "") in planned


def test_mosaic_parameter_reruns_only_mosaic(complete_run, user_config, full_dag, tmp_path):
    """pixfrac changes the drizzle, not the grid: the parts and the sum re-run, the grid stays."""
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"mosaic": {"pixfrac": 0.5}}))
    direct = {key for key in full_dag if key[0] == "mosaic_drizzle"}  # and the sum, downstream of them
    assert_plan(planned, full_dag, direct, [("mosaic", "")] + [("mosaic_drizzle", p) for p in PRODUCTS])
    assert all(planned[key].reason.startswith("Params have changed") for key in direct)


def test_catalog_parameter_reruns_only_the_catalog(complete_run, user_config, full_dag, tmp_path):
    """A source_catalog option re-runs its job and what reads the catalog (its figure, the summary) only."""
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"source_catalog": {"snr_threshold": 5.0}}))
    direct = {("source_catalog", "")}
    assert_plan(planned, full_dag, direct, [])
    assert planned[("source_catalog", "")].reason.startswith("Params have changed")
    assert set(planned) == {("source_catalog", ""), ("plot_catalog", ""), ("summary", ""), ("all", "")}


def test_mosaic_grid_parameter_reruns_the_mosaic_jobs_only(complete_run, user_config, full_dag, tmp_path):
    """On the default grid mosaic_grid copies outlier detection's grid and mosaic_drizzle reads its pixel maps;
    on another grid they read the exposures (and outlier detection does not re-run)."""
    shared, grid = "out/intermediate/rr_dither1_outlier_pixmap.fits", "out/intermediate/rr_outlier_grid.asdf"
    assert shared in full_dag["mosaic_drizzle", "product=rr_dither1"].inputs
    assert full_dag["mosaic_grid", ""].inputs == (grid,)
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"mosaic": {"rotation": 10.0}}))
    direct = {key for key in full_dag if key[0] in MOSAIC}
    assert_plan(planned, full_dag, direct, mosaic_jobs(*PRODUCTS))
    assert params_changed(planned["mosaic_grid", ""])
    assert shared not in planned["mosaic_drizzle", "product=rr_dither1"].inputs
    assert planned["mosaic_grid", ""].inputs == tuple(f"out/intermediate/{p}_tweakreg.fits" for p in PRODUCTS)


def test_enable_err_reruns_only_resample_and_the_mosaic(complete_run, user_config, full_dag, tmp_path):
    """enable_err is a drizzle option of the mosaic (the parts carry variances only with it): resample,
    the parts and the sum re-run, the grid stays."""
    override = {"steps": {"resample": {"enable_err": False}}, "mosaic": {"enable_err": False}}
    planned = plan(complete_run, *with_override(user_config, tmp_path, override))
    direct = {key for key in full_dag if key[0] in ("resample", "mosaic_drizzle")}
    assert_plan(planned, full_dag, direct, [("resample", p) for p in PRODUCTS] + [("mosaic", "")]
                + [("mosaic_drizzle", p) for p in PRODUCTS])
    for key in direct:
        assert planned[key].reason.startswith("Params have changed"), planned[key].reason
        assert "'enable_err': False" in planned[key].reason


@pytest.mark.parametrize("option, jobs", [
    ({"enable_ctx": False}, ("mosaic",)),  # the sum's output arrays only: the parts always carry CON
    ({"report_var": False}, ("mosaic",)),
    ({"propagate_dq": True}, ("mosaic_drizzle", "mosaic")),  # the parts carry DQ only with it
    ({"pixmap_stepsize": 16.0, "pixmap_order": 3}, ("mosaic_drizzle", "mosaic")),  # the parts' pixel maps
])
def test_mosaic_output_option_reruns_its_jobs_only(complete_run, user_config, full_dag, tmp_path, option, jobs):
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"mosaic": option}))
    if "pixmap_order" in option:  # another map than outlier detection's: computed, not read from its file
        assert not any("pixmap" in f for f in planned["mosaic_drizzle", "product=rr_dither1"].inputs)
    direct = {key for key in full_dag if key[0] == jobs[0]}
    assert_plan(planned, full_dag, direct, [(job, p) for job in jobs if job != "mosaic" for p in PRODUCTS]
                + [("mosaic", "")])
    assert_params_changed(planned, full_dag, direct)


def test_mosaic_output_wcs_file_is_an_input_of_the_mosaic_grid(complete_run, user_config, full_dag, tmp_path):
    """The mosaic's output_wcs is a grid option: mosaic_grid reads the file, the parts and the sum follow."""
    import asdf

    from mirical.drizzle.i2d import _header_and_wcs

    _, _, wcs, _ = _header_and_wcs(str(complete_run / "out" / "rr_dither1_cal.fits"))
    grid = tmp_path / "grid.asdf"
    asdf.AsdfFile({"wcs": wcs}).write_to(grid)
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"mosaic": {"output_wcs": str(grid)}}))
    direct = {("mosaic_grid", "")}
    assert_plan(planned, full_dag, direct, mosaic_jobs(*PRODUCTS))
    assert str(grid) in planned["mosaic_grid", ""].inputs
    assert params_changed(planned["mosaic_grid", ""]) or planned["mosaic_grid", ""].reason.startswith(
        "Updated input files")


def test_output_wcs_file_is_an_input_of_resample_only(complete_run, user_config, full_dag, tmp_path):
    import asdf

    from mirical.drizzle.i2d import _header_and_wcs

    cal = complete_run / "out" / "rr_dither1_cal.fits"
    _, _, wcs, _ = _header_and_wcs(str(cal))
    grid = tmp_path / "grid.asdf"
    asdf.AsdfFile({"wcs": wcs}).write_to(grid)  # the exposure's own (bounded) gwcs as the output grid
    given = with_override(user_config, tmp_path, {"steps": {"resample": {"output_wcs": str(grid)}}})
    planned = plan(complete_run, *given)
    direct = {key for key in full_dag if key[0] == "resample"}
    assert_plan(planned, full_dag, direct, [("resample", p) for p in PRODUCTS])
    for key in direct:
        assert str(grid) in planned[key].inputs
    try:
        snakemake(complete_run, *given)
        with fits.open(complete_run / "out" / "rr_dither2_i2d.fits") as i2d, fits.open(cal) as first:
            assert i2d["SCI"].data.shape == first["SCI"].data.shape  # dither 2 drizzled onto dither 1's grid
        with Changed(grid, lambda path: asdf.AsdfFile({"wcs": wcs, "pixel_scale": 0.2}).write_to(path)):
            planned = plan(complete_run, *given)
        assert steps(planned) == [("resample", p) for p in PRODUCTS]
        assert all(planned[key].reason.startswith("Updated input files") for key in direct)
    finally:
        snakemake(complete_run, "--configfile", str(user_config))  # back to the default grid for the next tests


def test_resample_pixmap_stepsize_reruns_only_resample(complete_run, user_config, full_dag, tmp_path):
    override = {"steps": {"resample": {"pixmap_stepsize": 16}}}
    planned = plan(complete_run, *with_override(user_config, tmp_path, override))
    direct = {key for key in full_dag if key[0] == "resample"}
    assert_plan(planned, full_dag, direct, [("resample", p) for p in PRODUCTS])
    for key in direct:
        assert planned[key].reason.startswith("Params have changed") and "'pixmap_stepsize': 16" in planned[key].reason


def test_outlier_pixmap_reruns_its_drizzles_blots_and_the_mosaic_not_the_grids(complete_run, user_config, full_dag,
                                                                                 tmp_path):
    """The step's pixel map is used by its single-exposure drizzle and its blot (the flagging): those, the
    median of the drizzles and what follows re-run; neither grid does."""
    override = {"outlier_detection": {"pixmap_order": 3, "pixmap_stepsize": 10}}
    planned = plan(complete_run, *with_override(user_config, tmp_path, override))
    direct = {key for key in full_dag if key[0] in ("outlier_drizzle", "outlier_detection")}
    assert_plan(planned, full_dag, direct, [("outlier_median", "")] + [("outlier_drizzle", p) for p in PRODUCTS]
                + flagging_jobs())
    assert_params_changed(planned, full_dag, direct)


def test_outlier_snr_reruns_the_flagging_and_the_mosaic_only(complete_run, user_config, full_dag, tmp_path):
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"outlier_detection": {"snr": "6.0 4.5"}}))
    direct = {key for key in full_dag if key[0] == "outlier_detection"}
    assert_plan(planned, full_dag, direct, flagging_jobs())
    for key in direct:
        assert planned[key].reason.startswith("Params have changed") and "6.0 4.5" in planned[key].reason


def test_outlier_good_bits_reruns_outlier_detection_and_the_mosaic_only(complete_run, user_config, full_dag,
                                                                        tmp_path):
    planned = plan(complete_run, *with_override(user_config, tmp_path,
                                                {"outlier_detection": {"good_bits": "~DO_NOT_USE+JUMP_DET"}}))
    direct = {key for key in full_dag if key[0] == "outlier_drizzle"}  # the single-exposure drizzle, not the grid
    assert_plan(planned, full_dag, direct,
                [("outlier_median", "")] + [("outlier_drizzle", p) for p in PRODUCTS] + flagging_jobs())
    assert_params_changed(planned, full_dag, direct)


def test_bad_good_bits_is_a_config_error_before_any_job(complete_run, user_config, tmp_path):
    output = snakemake(complete_run, "-n", *with_override(user_config, tmp_path,
                                                          {"outlier_detection": {"good_bits": "~DO_NOT_USE+JUMPDET"}}),
                       check=False)
    assert "config outlier_detection.good_bits: '~DO_NOT_USE+JUMPDET': 'JUMPDET' is not a DQ flag name" in output
    assert "Building DAG" not in output and "Job stats" not in output


def test_outlier_detection_skipped_feeds_the_skymatch_files_to_the_mosaic(complete_run, user_config, tmp_path):
    dag = plan(complete_run, *with_override(user_config, tmp_path, {"outlier_detection": {"skip": True}}),
               "--forceall")
    assert not any(rule in OUTLIER for rule, _ in dag)
    assert "out/intermediate/rr_dither1_skymatch.fits" in dag["mosaic_drizzle", "product=rr_dither1"].inputs


def test_skymatch_parameter_reruns_skymatch_outlier_detection_and_the_mosaic_only(complete_run, user_config,
                                                                                  full_dag, tmp_path):
    """Neither grid (footprints only) nor anything before skymatch re-runs; of skymatch's jobs, those that read
    the key: a statistic's the statistics and the levels, not the footprints; match_down the levels only."""
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"skymatch": {"skystat": "median"}}))
    direct = {key for key in full_dag if key[0] in ("skymatch_measure", "skymatch")}
    assert_plan(planned, full_dag, direct, skymatch_jobs("skymatch_measure"))
    assert_params_changed(planned, full_dag, direct)
    assert "median" in planned["skymatch_measure", "product=rr_dither1"].reason
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"skymatch": {"match_down": False}}))
    assert_plan(planned, full_dag, {("skymatch", "")}, skymatch_jobs("skymatch"))
    assert_params_changed(planned, full_dag, {("skymatch", "")})
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"skymatch": {"stepsize": 64}}))
    assert_plan(planned, full_dag, {("skymatch_footprints", "")}, skymatch_jobs())
    assert_params_changed(planned, full_dag, {("skymatch_footprints", "")})


def test_skymatch_user_levels_need_no_footprints_nor_statistics(complete_run, user_config, tmp_path):
    skylist = tmp_path / "sky.txt"
    skylist.write_text("rr_dither1 0.1\nrr_dither2 0.2\n")
    dag = plan(complete_run, *with_override(user_config, tmp_path, {"skymatch": {"skymethod": "user",
                                                                                 "skylist": str(skylist)}}),
               "--forceall")
    assert [key for key in dag if key[0] in SKY] == [("skymatch", "")]
    assert dag["skymatch", ""].inputs == (str(skylist), *(f"out/intermediate/{p}_tweakreg.fits" for p in PRODUCTS))


def test_tweakreg_fit_parameter_reruns_the_fit_not_the_catalogs(complete_run, user_config, full_dag, tmp_path):
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"tweakreg": {"nclip": 2}}))
    direct = {("tweakreg_align", "")}
    assert_plan(planned, full_dag, direct, stage3_jobs(catalogs=()))
    assert planned["tweakreg_align", ""].reason.startswith("Params have changed")


def test_tweakreg_catalog_parameter_reruns_the_catalogs_and_after(complete_run, user_config, full_dag, tmp_path):
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"tweakreg": {"snr_threshold": 8.0}}))
    direct = {key for key in full_dag if key[0] == "tweakreg_catalog"}
    assert_plan(planned, full_dag, direct, stage3_jobs())
    assert_params_changed(planned, full_dag, direct)


def test_tweakreg_sip_parameter_reruns_only_the_corrected_files_and_after(complete_run, user_config, full_dag,
                                                                          tmp_path):
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"tweakreg": {"sip_npoints": 16}}))
    direct = {key for key in full_dag if key[0] == "tweakreg"}
    assert_plan(planned, full_dag, direct, [job for job in stage3_jobs() if job[0] not in TWEAK[:2]])
    assert_params_changed(planned, full_dag, direct)


def test_tweakreg_skipped_feeds_the_cal_files_to_skymatch(complete_run, user_config, tmp_path):
    dag = plan(complete_run, *with_override(user_config, tmp_path, {"tweakreg": {"skip": True}}), "--forceall")
    assert not any(rule in TWEAK for rule, _ in dag)
    assert "out/rr_dither1_cal.fits" in dag["skymatch", ""].inputs
    assert "out/intermediate/rr_dither1_tweakreg.fits" not in dag["skymatch", ""].inputs


def test_web_abs_refcat_is_a_config_error_before_any_job(complete_run, user_config, tmp_path):
    output = snakemake(complete_run, "-n", *with_override(user_config, tmp_path, {"tweakreg": {"abs_refcat": "GAIADR3"}}),
                       check=False)
    lines = [line for line in output.splitlines() if "tweakreg.abs_refcat" in line]
    assert lines == ["mirical: config tweakreg.abs_refcat: GAIADR3 is a web catalog and mirical runs without network "
                     "access: give a catalog file with RA and DEC columns"]


def test_abs_refcat_file_is_an_input_of_the_fit_only(complete_run, user_config, full_dag, tmp_path):
    refcat = tmp_path / "refcat.ecsv"
    refcat.write_text("# %ECSV 1.0\n# ---\n# datatype:\n# - {name: RA, datatype: float64}\n"
                      "# - {name: DEC, datatype: float64}\nRA DEC\n1.0 2.0\n")
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"tweakreg": {"abs_refcat": str(refcat)}}))
    assert str(refcat) in planned["tweakreg_align", ""].inputs
    assert_plan(planned, full_dag, {("tweakreg_align", "")}, stage3_jobs(catalogs=()))


def test_skymatch_skipped_feeds_the_aligned_files_to_outlier_detection(complete_run, user_config, tmp_path):
    dag = plan(complete_run, *with_override(user_config, tmp_path, {"skymatch": {"skip": True}}), "--forceall")
    assert not any(rule in SKY for rule, _ in dag)
    aligned = "out/intermediate/rr_dither1_tweakreg.fits"
    assert aligned in dag["outlier_drizzle", "product=rr_dither1"].inputs
    assert aligned in dag["outlier_detection", "product=rr_dither1"].inputs


def test_bad_skymatch_dqbits_is_a_config_error_before_any_job(complete_run, user_config, tmp_path):
    output = snakemake(complete_run, "-n", *with_override(user_config, tmp_path, {"skymatch": {"dqbits": "~DO_NOT"}}),
                       check=False)
    assert "config skymatch.dqbits: '~DO_NOT': 'DO_NOT' is not a DQ flag name" in output


def test_background_parameter_reruns_every_chain_from_background(complete_run, user_config, full_dag, tmp_path):
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"steps": {"background": {"sigma": 2.5}}}))
    direct = {key for key in full_dag if key[0] == "background"}
    assert_plan(planned, full_dag, direct, chain("rr_dither1") + chain("rr_dither2") + stage3_jobs())
    assert all(planned[key].reason.startswith("Params have changed") for key in direct)


@pytest.mark.parametrize("step, option", [("flat_field", {"inverse": True}), ("photom", {"inverse": True})])
def test_step_option_reruns_that_step_and_downstream_only(complete_run, user_config, full_dag, tmp_path, step, option):
    planned = plan(complete_run, *with_override(user_config, tmp_path, {"steps": {step: option}}))
    direct = {key for key in full_dag if key[0] == step}
    assert_plan(planned, full_dag, direct, chain("rr_dither1", step) + chain("rr_dither2", step)
                + stage3_jobs())
    assert all(planned[key].reason.startswith("Params have changed") for key in direct)


def test_save_combined_background_runs_only_its_own_jobs(complete_run, user_config, full_dag, tmp_path):
    override = {"steps": {"background": {"save_combined_background": True}}}
    planned = plan(complete_run, *with_override(user_config, tmp_path, override))
    assert sorted(key for key in planned if key[0] != "all") == [("combined_background", f"product={p}")
                                                                 for p in PRODUCTS]
    for product in PRODUCTS:
        assert planned["combined_background", f"product={product}"].outputs == (
            f"out/intermediate/{product}_combinedbackground.fits",)
    snakemake(complete_run, *with_override(user_config, tmp_path, override))
    science = sorted(Path(yaml.safe_load(user_config.read_text())["science"][0]).parent.glob("*_rate.fits"))[0]
    out = complete_run / "out" / "intermediate"
    with fits.open(out / "rr_dither1_combinedbackground.fits") as combined, fits.open(science) as rate, \
            fits.open(out / "rr_dither1_bkgsub.fits") as bkgsub:
        assert [h.name for h in combined] == ["PRIMARY", "SCI", "DQ", "ERR"]
        np.testing.assert_array_equal(rate["SCI"].data - combined["SCI"].data, bkgsub["SCI"].data)
    assert plan(complete_run, *with_override(user_config, tmp_path, override)) == {}
    for product in PRODUCTS:  # the run is shared: leave it as the default config makes it
        (out / f"{product}_combinedbackground.fits").unlink()


def test_new_flat_reruns_flat_field_and_downstream_only(complete_run, user_config, full_dag):
    flat = Path(yaml.safe_load(user_config.read_text())["reference_files"]["flat"])

    def brighter(path):
        with fits.open(path) as hdul:
            hdul["SCI"].data = (hdul["SCI"].data * np.float32(1.01)).astype(hdul["SCI"].data.dtype)
            hdul.writeto(path, overwrite=True)

    with Changed(flat, brighter):
        planned = plan(complete_run, "--configfile", str(user_config))
    direct = reading(full_dag, complete_run, flat)
    assert steps(direct) == sorted([("flat_field", p) for p in PRODUCTS])
    assert_plan(planned, full_dag, direct, chain("rr_dither1", "flat_field") + chain("rr_dither2", "flat_field")
                + stage3_jobs())
    for product in PRODUCTS:
        reason = planned["flat_field", f"product={product}"].reason
        assert reason.startswith("Updated input files") and flat.name in reason, reason


def test_changed_science_file_reruns_its_chain_and_the_mosaic_only(complete_run, user_config, full_dag):
    science = sorted(Path(yaml.safe_load(user_config.read_text())["science"][0]).parent.glob("*_rate.fits"))[0]

    def restamped(path):
        with fits.open(path) as hdul:
            hdul[0].header["HISTORY"] = "edited by test_rerun"
            hdul.writeto(path, overwrite=True)

    with Changed(science, restamped):
        planned = plan(complete_run, "--configfile", str(user_config))
    direct = reading(full_dag, complete_run, science)
    assert steps(direct) == [("association", ""), ("background", "rr_dither1")]
    # the fit, the grid and the sky footprints come from every exposure, so every exposure is corrected, measured
    # and drizzled again; dither2's own chain is not
    assert_plan(planned, full_dag, direct, chain("rr_dither1") + [("association", "")] + stage3_jobs(("rr_dither1",)))
    assert [rule for rule, product in steps(planned) if product == "rr_dither2"] == [
        "mosaic_drizzle", "outlier_detection", "outlier_drizzle", "skymatch_measure", "tweakreg"]


FIGURES = ("plot_exposure", "plot_steps", "plot_outliers", "plot_mosaic", "plot_catalog", "plot_skymatch",
           "plot_tweakreg")
# Every rule whose script imports mirical/formats/io.py (so dqflags.py and subarray.py), directly or not:
# all but association and the figures
WRITES_FITS = CHAIN + TWEAK + SKY + OUTLIER + MOSAIC + ("summary",)


def test_one_figure_job_per_input_file(full_dag):
    """The first exposure's job draws its rate-vs-cal figure and the step strip, one job the mosaic's three."""
    figures = {key: sorted(Path(o).name for o in job.outputs) for key, job in full_dag.items() if key[0] in FIGURES}
    assert figures == {
        ("plot_steps", "product=rr_dither1"): ["rr_dither1_rate_cal.png", "rr_dither1_steps.png"],
        ("plot_exposure", "product=rr_dither2"): ["rr_dither2_rate_cal.png"],
        ("plot_mosaic", ""): ["rr_footprints.png", "rr_mosaic.png", "rr_weight.png"],
        ("plot_outliers", "product=rr_dither1"): ["rr_dither1_outliers.png"],
        ("plot_catalog", ""): ["rr_catalog.png"],
        ("plot_skymatch", ""): ["rr_skymatch.png"],
        ("plot_tweakreg", ""): ["rr_tweakreg.png"],
    }


def repository_copy(tmp_path: Path) -> Path:
    """A copy of the repository to edit (the repo itself is never touched)."""
    copy = tmp_path / "mirical_copy"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(
        ".git", "results", ".snakemake", ".venv", "__pycache__", ".pytest_cache"))
    return copy


@pytest.mark.parametrize("module, rules, expected", [
    ("steps/flat_field", ("flat_field",),
     chain("rr_dither1", "flat_field") + chain("rr_dither2", "flat_field") + stage3_jobs()),
    ("steps/resample", ("resample",), [("resample", p) for p in PRODUCTS]),
    # the i2d pieces the resample step, outlier detection and the mosaic share (drizzle, output headers)
    ("drizzle/i2d", ("resample",) + OUTLIER + MOSAIC, after_skymatch() + [("resample", p) for p in PRODUCTS]),
    ("steps/mosaic", OUTLIER + MOSAIC, after_skymatch()),
    ("steps/skymatch", SKY, skymatch_jobs()),
    # the fit and its correction, not the catalogs
    ("steps/tweakreg", ("tweakreg_align", "tweakreg"), stage3_jobs(catalogs=())),
    ("steps/outlier_detection", ("outlier_median", "outlier_detection"),
     [("outlier_median", "")] + flagging_jobs()),
    # shared code that the steps import (not listed by hand anywhere: read from the imports)
    ("formats/io", WRITES_FITS, chain("rr_dither1") + chain("rr_dither2") + stage3_jobs()),
    ("formats/asdf_extension", ("assign_wcs", "resample") + TWEAK + SKY + OUTLIER + MOSAIC,
     chain("rr_dither1", "assign_wcs") + chain("rr_dither2", "assign_wcs") + stage3_jobs()),
    ("products/plots", FIGURES, []),
])
def test_changed_code_reruns_the_steps_that_import_it_and_downstream_only(complete_run, user_config, full_dag,
                                                                        tmp_path, module, rules, expected):
    """A comment appended to a module, in a copy of the repository."""
    copy = repository_copy(tmp_path)
    path = copy / "mirical" / f"{module}.py"
    path.write_text(path.read_text() + "\n# a comment: the code changed\n")
    planned = plan(complete_run, "--configfile", str(user_config), snakefile=copy / "Snakefile")
    direct = {key for key in full_dag if key[0] in rules}
    assert {key[0] for key in direct} == set(rules)
    assert_plan(planned, full_dag, direct, expected)
    assert_params_changed(planned, full_dag, direct)
    assert (REPO / "mirical" / f"{module}.py").read_text() != path.read_text()


def test_changed_code_no_step_imports_reruns_nothing(complete_run, user_config, tmp_path):
    copy = repository_copy(tmp_path)
    for module in ("api", "cli", "workflow/worker"):
        path = copy / "mirical" / f"{module}.py"
        path.write_text(path.read_text() + "\n# a comment: the code changed\n")
    assert plan(complete_run, "--configfile", str(user_config), snakefile=copy / "Snakefile") == {}


def installed_as(folder: Path, distribution: str, version: str) -> dict[str, str]:
    """Environment in which ``distribution``'s metadata says ``version`` (a dist-info on PYTHONPATH).

    Only the metadata that planning reads (importlib.metadata) changes; imports are untouched.
    """
    info = folder / f"{distribution}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    return {"PYTHONPATH": os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)}


@pytest.mark.parametrize("distribution, rules, expected", [
    ("drizzle", ("resample",) + OUTLIER + MOSAIC, after_skymatch() + [("resample", p) for p in PRODUCTS]),
    ("matplotlib", FIGURES, []),
    ("photutils", ("source_catalog", "tweakreg_catalog"), stage3_jobs()),
    ("tweakwcs", ("tweakreg_align", "tweakreg"), stage3_jobs(catalogs=())),
    ("gwcs", ("assign_wcs", "resample") + SKY + OUTLIER + MOSAIC,
     chain("rr_dither1", "assign_wcs") + chain("rr_dither2", "assign_wcs") + stage3_jobs()),
])
def test_new_library_version_reruns_the_steps_that_use_it(complete_run, user_config, full_dag, tmp_path,
                                                          distribution, rules, expected):
    env = installed_as(tmp_path / "site", distribution, "99.0")
    planned = plan(complete_run, "--configfile", str(user_config), env=env)
    direct = {key for key in full_dag if key[0] in rules}
    assert_plan(planned, full_dag, direct, expected)
    assert_params_changed(planned, full_dag, direct)


# ----------------------------------------------------------------- 2. byte-identical outputs
def _outputs(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in COMPARED}


def test_outputs_are_byte_identical_across_workdirs_and_core_counts(complete_run, user_config, tmp_path_factory):
    """Run A: 2 cores in one folder; run B: 1 core in another. Every FITS/JSON/ECSV output is equal.

    Run B makes only A's compared files (and what they need), not the plots.
    """
    a = _outputs(complete_run / "out")
    other = tmp_path_factory.mktemp("run_b")
    snakemake(other, "--configfile", str(user_config), "--cores", "1", *(f"out/{name}" for name in a))
    b = _outputs(other / "out")
    assert sorted(a) == sorted(b)
    # 2 x (3 intermediates, tweakreg, skymatch, outlier single-exposure image and pixel map, mosaic part, cal, crf,
    # i2d) + median + mosaic + the mosaic's segmentation map (and its catalog, .ecsv)
    assert len([n for n in a if n.endswith(".fits")]) == 25
    assert "intermediate/rr_tweakreg_fit.ecsv" in a and "intermediate/rr_dither2_tweakreg_catalog.ecsv" in a
    assert "rr_cat.ecsv" in a and "rr_segm.fits" in a
    assert "intermediate/rr_mosaic_grid.asdf" in a and "intermediate/rr_outlier_grid.asdf" in a
    differ = [name for name in a if a[name] != b[name]]
    assert not differ, f"outputs differ between the runs: {differ}"


def test_fits_outputs_hold_no_machine_paths(complete_run, user_config):
    """Headers name files, never the working or data folders (refs.json keeps the full paths)."""
    data = Path(yaml.safe_load(user_config.read_text())["reference_files"]["flat"]).parents[1]
    for path in sorted((complete_run / "out").rglob("*.fits")):
        content = path.read_bytes()
        for folder in (complete_run, data, Path(os.path.realpath(complete_run))):
            assert str(folder).encode() not in content, f"{path.name} holds {folder}"


def test_demo_simulation_is_byte_identical(demo_run, tmp_path_factory):
    """The demo's rate, reference and truth files, simulated again in another folder on 1 core."""
    from conftest import REDUCED_DEMO

    other = tmp_path_factory.mktemp("demo_again")
    snakemake(other, "--config", "output_dir=out", REDUCED_DEMO, "--cores", "1", "simulate")
    a, b = _outputs(demo_run / "demo_data"), _outputs(other / "out" / "demo_data")
    assert sorted(a) == sorted(b)
    assert {Path(n).suffix for n in a} == {".fits", ".asdf", ".ecsv"}
    differ = [name for name in a if a[name] != b[name]]
    assert not differ, f"demo files differ: {differ}"


# ----------------------------------------------------------------- 3. a 1000-exposure association
def test_a_1000_exposure_association_plans(demo_run, tmp_path):
    """1000 header-only rate files, references chosen from a folder: every job planned, every flat found.

    How long this takes is measured by bench/dag_scale.py, not asserted here.
    """
    n = 1000
    config = write_large_association(tmp_path / "data", n, demo_run / "demo_data", refs="folder")
    output = snakemake(tmp_path / "run", "--configfile", str(config), "-n")
    counts = job_counts(output)
    for rule in CHAIN:
        assert counts[rule] == n, (rule, counts)
    assert counts["mosaic_drizzle"] == n
    assert counts["association"] == counts["mosaic_grid"] == counts["mosaic"] == counts["all"] == 1
    jobs = parse_jobs(output)
    flat = str(next((demo_run / "demo_data" / "reference").glob("jwst_miri_flat_*")))
    products = {job.wildcards for job in jobs.values() if job.rule == "flat_field"}
    assert len(products) == n
    for job in jobs.values():
        if job.rule == "flat_field":
            assert flat in job.inputs, job
