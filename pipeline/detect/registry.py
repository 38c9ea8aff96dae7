"""The model registry: ``models/<name>/`` with ``card.yaml`` and its files; ``models/default`` names the default.

A model is identified everywhere by ``model_id = "<name>@<sha256(weights.pt)[:12]>"``, so results
computed with different weights under the same name never mix. A path to a ``.pt`` file outside the
registry is also accepted; its name is then the file's stem (or its folder's name for ``weights.pt``).

Backends (:mod:`pipeline.detect.backends`): a model may also carry files exported from ``weights.pt``
for ONNX Runtime (``weights.onnx``) and OpenVINO (an IR folder, e.g. ``weights_int8_openvino_model/``).
The card's ``files:`` section lists every file the model has, by backend, with its sha256
(``cleanup-verify models export`` writes it); a model whose card lists a file that is missing or
changed is refused. The PyTorch weights are the file the card lists under ``files.torch.path``, else
``weights.pt`` (:func:`torch_file`). Results of another backend than PyTorch are identified as
``"<name>+<backend>@<sha256 of that file>[:12]"``: an INT8 model's boxes never mix with FP32 ones.

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
    """A resolved model: ``path`` to the file of ``backend`` (``weights.pt`` for torch), ``card`` (the
    parsed card.yaml, {} when absent), ``files``: every backend the model has and its file or folder."""

    name: str
    model_id: str
    path: Path
    card: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    backend: str = "torch"
    files: dict[str, Path] = field(default_factory=dict)


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


def path_sha256(path: Path) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents, in name order)."""
    import hashlib

    path = Path(path)
    if path.is_file():
        return weights_sha256(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f.relative_to(path).as_posix().encode() + b"\0" + weights_sha256(f).encode() + b"\n")
    return h.hexdigest()


def _listed_path(folder: Path, backend: str, entry: Any) -> Path:
    """The file a card's ``files.<backend>`` entry names, inside ``folder`` (ValueError otherwise)."""
    rel = entry.get("path") if isinstance(entry, dict) else None
    if not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise ValueError(f"model {folder.name}: card.yaml files.{backend} needs a relative 'path'")
    return folder / rel


def _read_card(folder: Path) -> dict[str, Any]:
    f = folder / CARD
    return (yaml.safe_load(f.read_text()) or {}) if f.is_file() else {}


def torch_file(folder: Path, card: dict[str, Any] | None = None) -> Path:
    """The PyTorch weights of a model folder: the file its card lists under ``files.torch.path``, else
    ``weights.pt``."""
    card = _read_card(folder) if card is None else card
    entry = (card.get("files") or {}).get("torch")
    return _listed_path(folder, "torch", entry) if isinstance(entry, dict) and entry.get("path") else folder / WEIGHTS


def card_files(folder: Path, card: dict[str, Any], check: str = "") -> dict[str, Path]:
    """``{backend: path}`` of the files a model's card lists (``files:``; torch: :func:`torch_file`).
    Raises FileNotFoundError when a listed file is missing, ValueError when the file of backend
    ``check`` differs from the sha256 the card records (only that one is hashed: they are large)."""
    out = {"torch": torch_file(folder, card)}
    for backend, entry in (card.get("files") or {}).items():
        if backend == "torch":
            continue
        p = _listed_path(folder, backend, entry)
        rel = entry["path"]
        if not p.exists():
            raise FileNotFoundError(f"model {folder.name} is incomplete: its card lists {rel} for {backend}, "
                                    f"which is missing (export it again: cleanup-verify models export "
                                    f"{folder.name} --backend {backend})")
        want = entry.get("sha256")
        if backend == check and want and path_sha256(p) != want:
            raise ValueError(f"model {folder.name}: {rel} ({backend}) is not the file its card lists "
                             f"(sha256 differs); export it again")
        out[backend] = p
    return out


def resolve_model(name_or_path: str, backend: str = "torch") -> ModelInfo:
    """A registry name (``default`` follows ``models/default``) or a path to a ``.pt`` file or to a
    model folder -> :class:`ModelInfo` of its ``backend`` file. Raises FileNotFoundError naming the known
    models, or when the model lacks a file of ``backend`` or a file its card lists."""
    spec = str(name_or_path)
    if spec == "default":
        spec = default_model_name()
    p = Path(spec)
    if p.suffix == ".pt" or p.is_file() or (p.is_dir() and torch_file(p).is_file() and len(p.parts) > 1):
        path = torch_file(p) if p.is_dir() else p
        if not path.is_file():
            raise FileNotFoundError(f"no weights at {path}")
        in_folder = p.is_dir() or path.name == WEIGHTS
        name = path.parent.name if in_folder else path.stem
    else:
        path = torch_file(models_dir() / spec) if (models_dir() / spec).is_dir() else models_dir() / spec / WEIGHTS
        if not path.is_file():
            known = ", ".join(m.name for m in list_models()) or "none"
            raise FileNotFoundError(f"unknown model {spec!r} (registered: {known})")
        name, in_folder = spec, True
    card = _read_card(path.parent)
    files = card_files(path.parent, card, check=backend) if in_folder else {"torch": path}
    files["torch"] = path
    if backend not in files:
        has = ", ".join(sorted(files))
        raise FileNotFoundError(f"model {name} has no {backend} file (it has: {has}); make one with: "
                                f"cleanup-verify models export {name} --backend {backend}")
    if backend == "torch":
        sha = weights_sha256(path)
        model_id = f"{name}@{sha[:12]}"
    else:
        sha = path_sha256(files[backend])
        model_id = f"{name}+{backend}@{sha[:12]}"
    return ModelInfo(name=name, model_id=model_id, path=files[backend].resolve(), card=card, sha256=sha,
                     backend=backend, files={k: v.resolve() for k, v in files.items()})


def list_models() -> list[ModelInfo]:
    """Every usable registered model (a folder of ``models/`` holding its PyTorch weights (:func:`torch_file`)
    and every file its card lists), by name; :func:`broken_models` names the others."""
    return [m for m in _scan() if isinstance(m, ModelInfo)]


def broken_models() -> list[tuple[str, str]]:
    """``(name, why)`` of each registered model that cannot be used (a file its card lists is missing)."""
    return [m for m in _scan() if not isinstance(m, ModelInfo)]


def _scan() -> list[ModelInfo | tuple[str, str]]:
    d = models_dir()
    if not d.is_dir():
        return []
    out: list[ModelInfo | tuple[str, str]] = []
    for p in sorted(d.iterdir()):
        if p.is_dir() and _has_torch_file(p):
            try:
                out.append(resolve_model(str(p)))
            except (FileNotFoundError, ValueError) as e:
                out.append((p.name, str(e)))
    return out


def _has_torch_file(folder: Path) -> bool:
    try:
        return torch_file(folder).is_file()
    except (ValueError, yaml.YAMLError):
        return (folder / WEIGHTS).is_file()


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
