"""The model registry: ``models/<name>/weights.pt`` + ``card.yaml``; ``models/default`` names the default.

A model is identified everywhere by ``model_id = "<name>@<sha256(weights.pt)[:12]>"``, so results
computed with different weights under the same name never mix. A path to a ``.pt`` file outside the
registry is also accepted; its name is then the file's stem (or its folder's name for ``weights.pt``).

The registry folder is the repo's ``models/`` (located relative to this package), or
``$CLEANUP_VERIFY_MODELS`` when set.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

WEIGHTS = "weights.pt"
CARD = "card.yaml"
DEFAULT_FILE = "default"


@dataclass(frozen=True)
class ModelInfo:
    """A resolved model: ``path`` to its weights, ``card`` (the parsed card.yaml, {} when absent)."""

    name: str
    model_id: str
    path: Path
    card: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""


def models_dir() -> Path:
    """The registry folder: ``$CLEANUP_VERIFY_MODELS`` or the repo's ``models/``."""
    env = os.environ.get("CLEANUP_VERIFY_MODELS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "models"


def default_model_name() -> str:
    """The name written in ``models/default`` (first non-empty, non-comment line)."""
    f = models_dir() / DEFAULT_FILE
    if not f.is_file():
        raise FileNotFoundError(f"no default model: {f} is missing")
    for line in f.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    raise ValueError(f"{f} names no model")


def weights_sha256(path: Path) -> str:
    from .datasets import file_sha256

    return file_sha256(path)


def resolve_model(name_or_path: str) -> ModelInfo:
    """A registry name (``default`` follows ``models/default``) or a path to a ``.pt`` file or to a
    model folder -> :class:`ModelInfo`. Raises FileNotFoundError naming the known models."""
    spec = str(name_or_path)
    if spec == "default":
        spec = default_model_name()
    p = Path(spec)
    if p.suffix == ".pt" or p.is_file() or (p.is_dir() and (p / WEIGHTS).is_file() and len(p.parts) > 1):
        path = p / WEIGHTS if p.is_dir() else p
        if not path.is_file():
            raise FileNotFoundError(f"no weights at {path}")
        name = path.parent.name if path.name == WEIGHTS else path.stem
    else:
        path = models_dir() / spec / WEIGHTS
        if not path.is_file():
            known = ", ".join(m.name for m in list_models()) or "none"
            raise FileNotFoundError(f"unknown model {spec!r} (registered: {known})")
        name = spec
    card_file = path.parent / CARD
    card = (yaml.safe_load(card_file.read_text()) or {}) if card_file.is_file() else {}
    sha = weights_sha256(path)
    return ModelInfo(name=name, model_id=f"{name}@{sha[:12]}", path=path.resolve(), card=card, sha256=sha)


def list_models() -> list[ModelInfo]:
    """Every registered model (a folder of ``models/`` holding ``weights.pt``), by name."""
    d = models_dir()
    if not d.is_dir():
        return []
    return [resolve_model(str(p)) for p in sorted(d.iterdir()) if (p / WEIGHTS).is_file()]


def save_card(folder: Path, card: dict[str, Any]) -> Path:
    """Write ``card.yaml`` into a model folder."""
    path = Path(folder) / CARD
    path.write_text(yaml.safe_dump(card, sort_keys=False, allow_unicode=True, width=100))
    return path


def set_default(name: str) -> None:
    """Point ``models/default`` at a registered model."""
    resolve_model(name)
    (models_dir() / DEFAULT_FILE).write_text(
        "# the model the pipeline uses (a folder of models/); change with care: results record model_id\n"
        f"{name}\n")
