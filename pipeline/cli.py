"""The ``cleanup-verify`` command line: a thin layer over the library API.

Each command group lives next to the code it drives and exposes ``register(sub, dataset_sub)``, where
``sub`` is the top-level ``add_subparsers()`` object and ``dataset_sub`` the one of ``cleanup-verify
dataset``. A command sets ``func`` (``args -> exit status``) with ``set_defaults``.

Exit status: 0 when the work was done (even if some entries or photos carry errors), 2 for bad usage,
1 when the command itself failed.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sqlite3
import sys
from pathlib import Path

# Modules that add commands, in help order. Each has register(sub, dataset_sub).
COMMAND_MODULES = [
    "pipeline.commands",
    "pipeline.dedup.cli",
    "pipeline.detect.cli",
    "pipeline.review.cli",
    "pipeline.api.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cleanup-verify",
        description="First-pass judging of clean-up challenge entries: finds reused photos, detects litter, "
                    "checks that the after photo shows the same place, and scores each entry 0-100 with "
                    "flags and reasons. Judges decide; this tool gathers the evidence.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"cleanup-verify {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    dataset = sub.add_parser("dataset", help="build training datasets and export judges' corrections")
    dataset_sub = dataset.add_subparsers(dest="dataset_command", metavar="DATASET_COMMAND")
    dataset.set_defaults(func=lambda a: _missing(dataset))
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, dataset_sub)
    _remember_parsers(parser)
    return parser


def _remember_parsers(parser: argparse.ArgumentParser) -> None:
    """Let every (sub)command's namespace carry its own parser (``_parser``), for its usage in errors; a
    nested command's default overrides its parent's."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                child.set_defaults(_parser=child)
                _remember_parsers(child)


def _missing(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # the usage of the (sub)command that was given, not the top level's
        getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    absolute_paths(args)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume where it stopped", file=sys.stderr)
        return 130
    except UsageError as e:
        print(f"cleanup-verify: error: {one_line(str(e))}", file=sys.stderr)
        return 2
    except CommandFailed as e:
        print(f"cleanup-verify: {one_line(str(e))}", file=sys.stderr)
        return 1
    except OSError as e:  # the file system refused (permissions, a file where a folder is needed...)
        print(f"cleanup-verify: error: {os_error_text(e)}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as e:  # a workspace database that cannot be read or written
        print(f"cleanup-verify: error: the workspace database failed: {one_line(str(e))}", file=sys.stderr)
        return 1


# Arguments holding a path a user typed: made absolute against the caller's working folder once, here, so that
# no later layer (Flask's send_file, a chdir, a worker process) resolves them against anything else.
PATH_ARGS = ("workspace", "out", "batch", "config", "data", "data_root", "project", "init", "negatives")


def absolute_paths(args: argparse.Namespace) -> None:
    """Replace each path argument of ``args`` (:data:`PATH_ARGS`) by its absolute form, keeping its type
    (``str`` or ``Path``); unset ones stay unset."""
    for name in PATH_ARGS:
        value = getattr(args, name, None)
        if isinstance(value, (str, Path)) and str(value):
            setattr(args, name, type(value)(os.path.abspath(value)))


def one_line(text: str) -> str:
    """A message on one line, without terminal colour codes (libraries' errors carry both)."""
    import re

    return " ".join(re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text).split())


def os_error_text(e: OSError) -> str:
    """An operating-system error in words: what failed, on which path(s)."""
    what = e.strerror or str(e)
    paths = [str(p) for p in (e.filename, e.filename2) if p is not None]
    return one_line(f"{what}: {' -> '.join(paths)}" if paths else what)


class UsageError(Exception):
    """Bad usage the user can fix (missing folder, unknown model name...): exit status 2."""


class CommandFailed(Exception):
    """The command could not finish (disk full, workspace busy...); the message says what to do: exit 1."""


if __name__ == "__main__":  # pragma: no cover
    # Run as ``python -m pipeline.cli``: use the imported module, whose UsageError/CommandFailed the
    # commands raise (this file's own copies, as __main__, are other classes).
    from pipeline.cli import main as _main

    sys.exit(_main())
