"""bench/like_for_like_table.py: the like-for-like table and its ratios, on rows with answers worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import load_script

REPO = Path(__file__).resolve().parents[1]

ROWS = """size\tside\trun\twall_s\tcpu_s\trss_mb\tload
demo\tmirical\tproducts (no figures, no summary)\t20.0\t30.0\t300\t0.1 0.2 0.3
demo\tofficial\tImage2Pipeline\t15.0\t16.0\t600\t0.1 0.2 0.3
demo\tofficial\tImage3Pipeline\t20.0\t24.0\t620\t0.1 0.2 0.3
demo\tmirical\tdefault target\t26.0\t42.0\t340\t0.1 0.2 0.3
demo\tmirical\tstart and planning (nothing to do)\t1.5\t1.4\t99\t0.1 0.2 0.3
demo\tmirical\tlargest job (resample/demo_dither2)\t1.4\t1.3\t343\t
32\tofficial\tImage2Pipeline\t80.0\t90.0\t1600\t0.1 0.2 0.3
32\tofficial\tImage3Pipeline\t120.0\t110.0\t2000\t0.1 0.2 0.3
32\tmirical\tdefault target\t110.0\t150.0\t400\t0.1 0.2 0.3
32\tmirical\tlargest job (mosaic)\t5.0\t4.0\t900\t
"""


@pytest.fixture(scope="module")
def table():
    return load_script(REPO / "bench" / "like_for_like_table.py")


def test_official_runs_add_up(table, tmp_path):
    (tmp_path / "rows.tsv").write_text(ROWS)
    sizes = table.read_rows(tmp_path / "rows.tsv")
    assert table.official_sum(sizes["demo"]) == {"wall_s": 35.0, "cpu_s": 40.0, "rss_mb": 620.0}
    assert table.official_sum(sizes["32"]) == {"wall_s": 200.0, "cpu_s": 200.0, "rss_mb": 2000.0}


def test_ratios_against_the_goals(table, tmp_path):
    (tmp_path / "rows.tsv").write_text(ROWS)
    page = table.render(table.read_rows(tmp_path / "rows.tsv"), 2)
    # demo: wall 26/35 = 0.74 <= 0.8, CPU 42/40 = 1.05 > 1.0; 32: wall 110/200 = 0.55, CPU 150/200 = 0.75,
    # memory 900/2000 = 0.45 (the largest size's only)
    assert "| demo (4 + 1 background) | 0.74 (goal ≤ 0.8: met) | 1.05 (goal ≤ 1.0: missed by 0.05) | – |" in page
    assert ("| 32 (+ 1 background) | 0.55 (goal ≤ 0.6: met) | 0.75 (goal ≤ 0.8: met) | "
            "0.45 (goal ≤ 0.5: met), largest job (mosaic) |") in page
    assert "| demo (4 + 1 background) | official, both | 35.0 | 40.0 | 620 | |" in page


def test_where_the_cpu_went_for_a_missed_goal(table, tmp_path):
    (tmp_path / "rows.tsv").write_text(ROWS)
    bench = tmp_path / "like_for_like_demo" / "out" / "benchmarks"
    (bench / "resample").mkdir(parents=True)
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    (bench / "resample" / "p1.tsv").write_text(header + "1.0\t0:00:01\t300\t0\t0\t0\t0\t0\t0\t20.0\n")
    (bench / "mosaic.tsv").write_text(header + "1.0\t0:00:01\t300\t0\t0\t0\t0\t0\t0\t5.5\n")
    page = table.render(table.read_rows(tmp_path / "rows.tsv"), 2, tmp_path)
    # demo's CPU goal is missed (42 > 40): its 2 jobs used 25.5 s, the other 16.5 s are fixed costs; 32 has no runs
    assert ("- demo (4 + 1 background): of mirical's 42.0 s CPU, its 2 jobs used 25.5 s (the largest rules: "
            "resample 20.0, mosaic 5.5); the other 16.5 s are") in page
    assert "- 32 (+ 1 background)" not in page
