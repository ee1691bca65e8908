"""bench/ holds what bench/run.sh runs, each file with one line in bench/README.md's index."""
import re

from conftest import REPO

BENCH = REPO / "bench"


def index() -> list[str]:
    """The file names of bench/README.md's index table, in order (a row may name a sub-command too)."""
    text = (BENCH / "README.md").read_text()
    table = text[text.index("| file | what |"):].split("\n\n")[0]
    return [m[1] for m in re.finditer(r"^\| `([^` ]+)[^|]*\|", table, flags=re.M)]


def test_every_file_has_one_line_in_the_index():
    files = sorted(p.name for p in BENCH.iterdir() if p.is_file() and p.name != "README.md")
    names = index()
    assert sorted(names) == files, "bench/README.md's index and bench/ differ"


def test_run_sh_runs_every_file():
    """Each file is named by run.sh or by a script that run.sh names (transitively)."""
    reached, todo = {"run.sh"}, ["run.sh"]
    while todo:
        text = (BENCH / todo.pop()).read_text()
        for name in set(re.findall(r"bench/([\w.]+\.(?:py|sh))", text)) - reached:
            reached.add(name)
            todo.append(name)
    files = {p.name for p in BENCH.iterdir() if p.suffix in (".py", ".sh")}
    assert files - reached == set()


def test_tests_do_not_reach_into_bench():
    """What the tests need lives in tests/ (bench/ may use it, not the other way round)."""
    users = [p.name for p in (REPO / "tests").glob("*.py") if p.name != "test_bench.py" and
             re.search(r"""/ ["']bench["'] /|["']bench/""", p.read_text())]
    assert sorted(users) == ["test_bench_tables.py", "test_critical_path.py", "test_docs.py"]  # test bench/critical_path.py,
    # like_for_like_table.py and performance_page.py themselves
