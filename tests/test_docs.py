"""The documents: every relative link and anchor resolves, the generated pages are current, the
page writers of bench/ keep what they must, and docs/notebook.ipynb runs."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, load_script, official_python

DOCUMENTS = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


# ------------------------------------------------------------------ links and anchors

def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text lower-cased, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading's anchor; repeated headings get -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    result = set()
    for _, text in HEADING.findall(FENCE.sub("", markdown)):
        slug = github_slug(text)
        result.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return result


def broken_links(path: Path) -> list[str]:
    """The relative links of ``path`` whose file or anchor does not exist."""
    text = INLINE_CODE.sub("", FENCE.sub("", path.read_text()))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{path.name}: {target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text()):
            broken.append(f"{path.name}: {target} (no heading #{anchor} in {linked.name})")
    return broken


def test_github_slugs():
    assert github_slug("Per integration (`_calints.fits`)") == "per-integration-_calintsfits"
    assert github_slug("On a cluster (SLURM)") == "on-a-cluster-slurm"
    assert github_slug("`steps.background`") == "stepsbackground"
    assert github_slug("The science, step by step") == "the-science-step-by-step"
    assert github_slug("See [the page](x.md) — now") == "see-the-page--now"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n### A\n") == {"a", "a-1", "a-2"}


def test_a_broken_link_is_found(tmp_path):
    (tmp_path / "other.md").write_text("# Title\n\n## A part\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#a-part) [no file](missing.md) [no anchor](other.md#b-part) "
                    "[here](#local) `[in code](nowhere.md)` [web](https://example.org/x.md)\n\n## Local\n")
    assert broken_links(page) == ["page.md: missing.md (no such file)",
                                  "page.md: other.md#b-part (no heading #b-part in other.md)"]


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(REPO)) for p in DOCUMENTS])
def test_links_and_anchors_resolve(path):
    assert not broken_links(path), "\n".join(broken_links(path))


def test_readme_is_short_and_links_every_page():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for page in ("configuration", "outputs", "science", "agreement", "performance", "reproducibility",
                 "cluster", "troubleshooting", "development"):
        assert f"](docs/{page}.md)" in readme, page
    assert "](docs/notebook.ipynb)" in readme and "](CHANGELOG.md)" in readme


# ------------------------------------------------------------------ the configuration reference

def test_configuration_page_is_current():
    result = subprocess.run([sys.executable, str(REPO / "docs" / "make_configuration.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_configuration_page_covers_every_key_and_needs_descriptions():
    generator = load_script(REPO / "docs" / "make_configuration.py")
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    page = generator.render(schema)
    assert "| `pixfrac` | `1.0` | number > 0, ≤ 1 |" in page
    assert "| `good_bits` | `~DO_NOT_USE` | string or integer ≥ 0 or null |" in page
    assert "### `steps.background`" in page and "## `mosaic`" in page
    schema["properties"]["steps"]["properties"]["photom"]["properties"]["new_key"] = {"type": "boolean"}
    with pytest.raises(ValueError, match="key steps.photom.new_key has no description"):
        generator.render(schema)


def test_config_yaml_defaults_are_the_schemas():
    """config.yaml and the schema's defaults (what the reference page shows) say the same."""
    generator = load_script(REPO / "docs" / "make_configuration.py")
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    config = yaml.safe_load((REPO / "config.yaml").read_text())

    def differences(node, value, key):
        node = generator.resolve(node, schema)
        if "properties" in node:
            extra = [f"{key}.{k}".lstrip(".") + " is not in the schema" for k in value if k not in node["properties"]]
            return extra + [d for k, sub in node["properties"].items() if k in value
                            for d in differences(sub, value[k], f"{key}.{k}".lstrip("."))]
        if "default" not in node:
            return []
        default = node["default"]
        nan = isinstance(default, str) and default.lower() == "nan"
        same = value == default or (nan and (str(value).lower() == "nan" or isinstance(value, float) and math.isnan(value)))
        return [] if same else [f"{key}: config.yaml {value!r}, schema default {default!r}"]

    assert not differences(schema, config, "")


# ------------------------------------------------------------------ the measured pages' writers

def test_performance_page_keeps_the_latest_run_without_load_or_checkout(tmp_path):
    results = tmp_path / "results.md"
    results.write_text("# mirical benchmark 2026-12-01T10:00:00Z\n\nmachine: 2 cores, 23 GiB; AMD EPYC\n"
                       "mirical 0.1.0, snakemake 9.27.1, jwst 3.0.0\ncode: 0123abc+changes\n\n"
                       "## Calibration against the official pipeline\n\n"
                       "| run | wall s | load avg at start |\n|---|---:|---:|\n| demo | 16.00 | 0.46 |\n")
    page = tmp_path / "performance.md"
    subprocess.run([sys.executable, str(REPO / "bench" / "performance_page.py"), str(results), str(page)], check=True)
    text = page.read_text()
    assert "Measured 2026-12-01 on 2 cores, 23 GiB; AMD EPYC; mirical 0.1.0, snakemake 9.27.1, jwst 3.0.0." in text
    assert "| run | wall s |\n|---|---:|\n| demo | 16.00 |\n" in text
    assert "0123abc" not in text and "load" not in text


def test_performance_page_replaces_one_section(tmp_path):
    """--section: the section of the same heading (up to its first comma) replaced, the others kept; a new one appended."""
    page = tmp_path / "performance.md"
    page.write_text("# Performance\n\nMeasured.\n\n## Sky, 8 exposures\n\n| run | s |\n|---|---:|\n| old | 1 |\n\n"
                    "## Outliers\n\n| old outliers |\n")
    section = tmp_path / "section.md"
    section.write_text("## Sky, 8/32 exposures\n\n| run | s | load 1/5/15 min at start |\n|---|---:|---|\n"
                       "| new | 2 | 3.1 2.0 1.5 |\n")
    script = str(REPO / "bench" / "performance_page.py")
    subprocess.run([sys.executable, script, "--section", str(section), str(page)], check=True)
    assert page.read_text() == ("# Performance\n\nMeasured.\n\n## Sky, 8/32 exposures\n\n| run | s |\n|---|---:|\n"
                                "| new | 2 |\n\n## Outliers\n\n| old outliers |\n")
    section.write_text("## Mosaic\n\n| new mosaic |\n")
    subprocess.run([sys.executable, script, "--section", str(section), str(page)], check=True)
    assert page.read_text().endswith("## Outliers\n\n| old outliers |\n\n## Mosaic\n\n| new mosaic |\n")


def test_performance_page_keeps_the_sections_a_partial_run_left_out(tmp_path):
    """--keep-missing: the new run's page, then the old page's sections the run did not measure."""
    results = tmp_path / "results.md"
    results.write_text("# mirical benchmark 2026-12-02T10:00:00Z\n\nmachine: 2 cores\nmirical 0.1.0\n\n"
                       "## Like for like, demo/8 full-frame exposures\n\n| new like |\n")
    page = tmp_path / "performance.md"
    page.write_text("# Performance\n\nold intro\n\n## Like for like, demo\n\n| old like |\n\n"
                    "## Outlier detection, 8/16/32\n\n| old outliers |\n\n## Alignment\n\n| old alignment |\n")
    subprocess.run([sys.executable, str(REPO / "bench" / "performance_page.py"), "--keep-missing", str(results),
                    str(page)], check=True)
    text = page.read_text()
    assert "Measured 2026-12-02 on 2 cores; mirical 0.1.0." in text and "old intro" not in text
    assert text.endswith("## Like for like, demo/8 full-frame exposures\n\n| new like |\n\n"
                         "## Outlier detection, 8/16/32\n\n| old outliers |\n\n## Alignment\n\n| old alignment |\n")


def test_agreement_page_keeps_the_randomized_section(tmp_path):
    table = tmp_path / "agreement.md"
    table.write_text("| case | cal |\n|---|---|\n| FULL | 0 |\n")
    page = tmp_path / "page.md"
    page.write_text("old\n<!-- randomized:start -->\n## Randomized cases\n\n12 of 12 agreed.\n<!-- randomized:end -->\n")
    env = dict(os.environ, MIRICAL_OFFICIAL_PYTHON=official_python())
    subprocess.run([sys.executable, str(REPO / "tests" / "agreement_page.py"), str(table), str(page)], check=True,
                   env=env)
    text = page.read_text()
    assert "old" not in text and "| FULL | 0 |" in text and "12 of 12 agreed." in text
    assert re.search(r"^Measured \d{4}-\d{2}-\d{2}: mirical \S+, numpy ", text, re.M)


def test_agreement_page_takes_the_alignment_table_beside_the_matrix(tmp_path):
    """The stage-3 alignment section comes from agreement_tweakreg.md when it is there, else the page's is kept."""
    table = tmp_path / "agreement.md"
    table.write_text("| case | cal |\n|---|---|\n| FULL | 0 |\n")
    page = tmp_path / "page.md"
    page.write_text("<!-- tweakreg:start -->\n## Stage-3 alignment\n\nkept row\n<!-- tweakreg:end -->\n")
    env = dict(os.environ, MIRICAL_OFFICIAL_PYTHON=official_python())
    command = [sys.executable, str(REPO / "tests" / "agreement_page.py"), str(table), str(page)]
    subprocess.run(command, check=True, env=env)
    assert "kept row" in page.read_text()
    (tmp_path / "agreement_tweakreg.md").write_text("| case | sources |\n|---|---|\n| seed 1 | 31-32 |\n")
    subprocess.run(command, check=True, env=env)
    text = page.read_text()
    assert "kept row" not in text and "| seed 1 | 31-32 |\n<!-- tweakreg:end -->" in text
    assert text.index("| FULL | 0 |") < text.index("## Stage-3 alignment") < text.index("## Randomized cases")


# ------------------------------------------------------------------ the notebook

@pytest.mark.workflow
def test_notebook_runs(tmp_path, monkeypatch):
    """docs/notebook.ipynb runs top to bottom, writing only under the temporary folder it makes."""
    import nbclient
    import nbformat

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the kernel imports this checkout's mirical
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    notebook = nbformat.read(REPO / "docs" / "notebook.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2  # rate vs cal, the mosaic
    text = "".join(o.get("text", "") for o in outputs)
    assert '"name": "my_galaxy_dither2"' in text and "'S_PHOTOM': 'COMPLETE'" in text and "BUNIT MJy/sr" in text
    (work,) = tmp_path.glob("mirical_notebook_*")
    assert (work / "my_output" / "my_galaxy_i2d.fits").is_file()
    assert not any(cwd.iterdir())
