"""Put the agreement matrix's table into README.md.

    MIRICAL_AGREEMENT_TABLE=/tmp/agreement.md ./quickstart test tests/test_official.py
    python bench/readme_agreement.py /tmp/agreement.md

tests/test_official.py writes the table (one row per case); this replaces the
lines between the ``<!-- agreement-matrix -->`` and ``<!-- /agreement-matrix -->``
markers of README.md with it.
"""

from __future__ import annotations

import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- agreement-matrix -->", "<!-- /agreement-matrix -->"


def replace_block(text: str, table: str) -> str:
    """``text`` with the lines between the markers replaced by ``table``."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"README.md must hold one {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{table.strip()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    table = Path(argv[0]).read_text()
    if not table.startswith("| case |"):
        sys.exit(f"{argv[0]}: not the table tests/test_official.py writes")
    README.write_text(replace_block(README.read_text(), table))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
