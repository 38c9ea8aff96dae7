"""Regenerate the README's generated tables (flag codes, photo error codes) from the code.

    python scripts/readme_tables.py          # rewrite README.md in place
    python scripts/readme_tables.py --check  # exit 1 when README.md is out of date (used by the tests)
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def tables() -> dict[str, str]:
    from pipeline.load import ERROR_CODES
    from pipeline.score.flag_codes import flag_table_markdown

    photo = "| code | meaning |\n|---|---|\n" + "".join(f"| `{c}` | {m} |\n" for c, m in ERROR_CODES.items())
    return {"flags": flag_table_markdown().strip() + "\n", "photo-errors": photo}


def render(text: str) -> str:
    for name, table in tables().items():
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md lacks the markers <!-- {name}:begin --> / <!-- {name}:end -->")
        text = pattern.sub(lambda m: m.group(1) + table + m.group(2), text)
    return text


def main() -> int:
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if "--check" in sys.argv:
        return 0 if new == text else 1
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
