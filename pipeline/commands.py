"""Core commands: run, export, demo (filled in by the foundation work)."""
from __future__ import annotations


def register(sub, dataset_sub) -> None:  # noqa: ARG001
    pass
