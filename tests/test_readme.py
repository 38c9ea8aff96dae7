"""The README is the newcomer's contract: its generated tables match the code, and it has exactly two
set-up commands."""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_generated_tables_are_up_to_date():
    r = subprocess.run([sys.executable, "scripts/readme_tables.py", "--check"], cwd=REPO)
    assert r.returncode == 0, "README.md tables are stale: run python scripts/readme_tables.py"


def test_every_flag_code_is_documented_once():
    from pipeline.score.flag_codes import FLAGS

    text = (REPO / "README.md").read_text(encoding="utf-8")
    for code in FLAGS:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", code)
        assert text.count(f"| `{code}` |") == 1, code


def test_two_setup_commands_exist_in_makefile():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    setup = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in setup.splitlines() if line.startswith("    ")]
    assert commands == ["make demo", "make test"]
    mk = (REPO / "Makefile").read_text()
    assert re.search(r"^demo:", mk, re.M) and re.search(r"^test:", mk, re.M)


def test_output_table_lists_every_export_field(tmp_path):
    from pipeline import export
    from pipeline.store import Workspace
    from wsfactory import make_workspace

    make_workspace(tmp_path / "ws", 2, seed=3, thumbs=False)
    with Workspace(tmp_path / "ws") as ws:
        fields = set(export.records(ws)[0])
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = re.search(r"\n((?:\|.*\n)+)", text.split("## Output", 1)[1]).group(1)
    documented = set(re.findall(r"`([a-z_]+)`", "\n".join(line.split("|")[1] for line in table.splitlines())))
    assert fields == documented


def test_command_list_matches_the_real_commands():
    import argparse

    from pipeline.cli import build_parser

    def subcommands(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        return next((dict(a.choices) for a in p._actions if isinstance(a, argparse._SubParsersAction)), {})

    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## Everyday use", 1)[1].split("\n\n", 2)[1]
    listed = {}
    for line in block.splitlines():
        words = line.split("#")[0].split()
        assert words[0] == "cleanup-verify", line
        listed[words[1]] = " ".join(words[2:])
    real = subcommands(build_parser())
    assert set(listed) == set(real)
    for name, parser in real.items():  # a command with subcommands lists every one of them
        for sub in subcommands(parser):
            assert re.search(rf"(^|[ |]){re.escape(sub)}([ |]|$)", listed[name]), (name, sub)
