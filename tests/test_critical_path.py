"""bench/critical_path.py: the critical path, the core-limited schedule and the duration model,
on small hand-made DAGs and benchmark folders with answers worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import load_script

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cp():
    return load_script(REPO / "bench" / "critical_path.py")


# a(2) feeds b(3) and c(1); d(4) needs b and c: the path a-b-d is 9 s, all of it 10 s of CPU.
DIAMOND = {0: set(), 1: {0}, 2: {0}, 3: {1, 2}}
DIAMOND_S = {0: 2.0, 1: 3.0, 2: 1.0, 3: 4.0}


def test_critical_path_of_a_diamond(cp):
    assert cp.critical_path(DIAMOND, DIAMOND_S) == (9.0, [0, 1, 3])


def test_schedule_of_a_diamond(cp):
    assert cp.list_schedule(DIAMOND, DIAMOND_S, 1) == 10.0  # all in sequence
    assert cp.list_schedule(DIAMOND, DIAMOND_S, 2) == 9.0  # c beside b: the critical path
    assert cp.list_schedule(DIAMOND, DIAMOND_S, 8) == 9.0


def test_schedule_limited_by_cores(cp):
    # five 2-s map jobs, then a 1-s reduce: 2 cores run them in 3 rounds (2+2+2) then the reduce.
    needs = {i: set() for i in range(5)} | {5: set(range(5))}
    seconds = {i: 2.0 for i in range(5)} | {5: 1.0}
    assert cp.critical_path(needs, seconds) == (3.0, [0, 5])
    assert cp.list_schedule(needs, seconds, 2) == 7.0
    assert cp.list_schedule(needs, seconds, 5) == 3.0


def test_schedule_first_come_first_served(cp):
    # 0 (1 s) feeds 1 (4 s); 2 and 3 (3 s each) are ready from the start; 2 cores. 0 and 2 start
    # (smaller ids); at 1 s job 3 (ready since 0 s) goes before 1 (ready since 1 s), so 1 runs
    # from 3 to 7 s. Longest-path-first or smallest-id-first would start 1 at 1 s: 6 s.
    needs = {0: set(), 1: {0}, 2: set(), 3: set()}
    seconds = {0: 1.0, 1: 4.0, 2: 3.0, 3: 3.0}
    assert cp.list_schedule(needs, seconds, 2) == 7.0
    assert cp.list_schedule(needs, seconds, 1) == 11.0


def test_a_cycle_is_an_error(cp):
    with pytest.raises(ValueError, match="cycle"):
        cp.critical_path({0: {1}, 1: {0}}, {0: 1.0, 1: 1.0})


def test_parse_snakemake_dot(cp):
    text = (
        "digraph snakemake_dag {\n"
        '\t0[label = "all", color = "0.00 0.6 0.85", style="rounded"];\n'
        '\t1[label = "mosaic", color = "0.33 0.6 0.85", style="rounded"];\n'
        '\t2[label = "background\\nproduct: big_dither1", color = "0.10 0.6 0.85", style="rounded"];\n'
        "\t1 -> 0\n\t2 -> 1\n\t2 -> 0\n}\n"
    )
    rules, needs = cp.parse_dot(text)
    assert rules == {0: "all", 1: "mosaic", 2: "background"}
    assert needs == {0: {1, 2}, 1: {2}, 2: set()}


def test_benchmark_files_to_rules(cp):
    assert cp.rule_of(Path("photom/demo_dither1.tsv")) == "photom"
    assert cp.rule_of(Path("mosaic.tsv")) == "mosaic"
    assert cp.rule_of(Path("skymatch_measure/demo_dither1.tsv")) == "skymatch_measure"  # skymatch's three rules
    assert cp.rule_of(Path("skymatch_footprints.tsv")) == "skymatch_footprints"
    assert cp.rule_of(Path("skymatch.tsv")) == "skymatch"
    assert cp.rule_of(Path("plots/mosaic.tsv")) == "plot_mosaic"
    assert cp.rule_of(Path("plots/demo_dither2_rate_cal.tsv")) == "plot_exposure"
    assert cp.rule_of(Path("plots/demo_dither1_steps.tsv")) == "plot_steps"
    assert cp.rule_of(Path("plots/demo_dither1_outliers.tsv")) == "plot_outliers"
    with pytest.raises(ValueError, match="plots/x_footprints.tsv"):
        cp.rule_of(Path("plots/x_footprints.tsv"))


def _run(folder: Path, photom: list[float], mosaic: float) -> Path:
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    (folder / "photom").mkdir(parents=True)
    for i, s in enumerate(photom):
        (folder / "photom" / f"p{i}.tsv").write_text(header + f"{s}\t0:00:01\t1\t1\t1\t1\t0\t0\t0\t{s / 2}\n")
    (folder / "mosaic.tsv").write_text(header + f"{mosaic}\t0:00:01\t1\t1\t1\t1\t0\t0\t0\t1\n")
    return folder


def test_a_warm_worker_job_counts_its_childs_cpu_and_memory(cp, tmp_path):
    """With the warm worker a job's benchmark file measured its waiting process; the child's CPU
    and peak RSS are the resources line of its log (OUTPUT_DIR/logs/<same path>.log)."""
    from mirical.workflow.worker import RESOURCES_PREFIX

    benchmarks = _run(tmp_path / "out" / "benchmarks", [1.0, 3.0], 5.0)  # photom CPU 0.5 and 1.5 s, RSS 1 MB
    log = tmp_path / "out" / "logs" / "photom" / "p1.log"
    log.parent.mkdir(parents=True)
    log.write_text(f"INFO done\n{RESOURCES_PREFIX} script=photom.py cpu_s=2.250 max_rss_mb=180.0\n")
    assert cp.read_benchmarks(benchmarks, "cpu_time")[1]["photom"] == [0.5, 1.5 + 2.25]
    assert cp.read_benchmarks(benchmarks)[1]["photom"] == [1.0, 3.0]  # the wall time is the job's already
    assert cp.read_benchmarks(benchmarks, "max_rss")[1]["photom"] == [1.0, 180.0]


def test_model_per_exposure_mean_and_reduce_line(cp, tmp_path):
    # 2 exposures: photom 1 and 3 s, mosaic 5 s; 4 exposures: photom 2 s each, mosaic 9 s.
    small = cp.read_benchmarks(_run(tmp_path / "a", [1.0, 3.0], 5.0))
    large = cp.read_benchmarks(_run(tmp_path / "b", [2.0] * 4, 9.0))
    assert small == (2, {"photom": [1.0, 3.0], "mosaic": [5.0]})
    assert cp.read_benchmarks(tmp_path / "a", "cpu_time")[1]["photom"] == [0.5, 1.5]
    model = cp.Model([small, large], reduce_rules={"mosaic"})
    assert model.duration("photom", 100) == pytest.approx(2.0)  # mean of the 6 jobs
    assert model.duration("mosaic", 10) == pytest.approx(1.0 + 2.0 * 10)  # through (2, 5) and (4, 9)
    assert model.duration("all", 10) == 0.0
    with pytest.raises(KeyError, match="resample"):
        model.duration("resample", 10)
    one_run = cp.Model([small], reduce_rules={"mosaic"})
    assert one_run.duration("mosaic", 256) == 5.0  # one N: as measured


def test_reduce_rules_read_every_exposure(cp):
    rules = {0: "all", 1: "a", 2: "a", 3: "grid", 4: "b"}
    needs = {0: {3, 4}, 1: set(), 2: set(), 3: {1, 2}, 4: {1}}
    assert cp.reduce_rules(rules, needs, 2) == {"grid"}


def test_linear_fit_never_decreases(cp):
    assert cp.linear_fit([(4, 10.0), (32, 8.0)]) == (9.0, 0.0)
    assert cp.linear_fit([(0, 1.0), (1, 3.0), (2, 5.0)]) == pytest.approx((1.0, 2.0))
