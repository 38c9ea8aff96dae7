"""Declarative litter datasets: ``datasets/<name>.yaml`` -> an ultralytics ``data.yaml``.

A definition names label sources under the shared data root (``../shared/data``), background images
(no litter, trained as negatives) and held-out negatives (clean photos never trained on, for counting
false detections). :func:`build_dataset` writes, under an output folder:

* ``images/{train,val}/<source>__<name>`` symlinks to the shared photos (never copies),
* ``labels/{train,val}/<source>__<stem>.txt`` the labels remapped to the dataset's classes,
* ``train.txt``, ``val.txt``, ``negatives.txt`` image lists and ``data.yaml`` for ultralytics,
* ``manifest.json``: every image with its split, source, group, sha256 and pHash.

Splits are deterministic: each *copy group* goes to val when ``sha256("<seed>:<group>")`` maps below the
source's ``val_fraction``. A copy group joins the images of one trash_collection source photo (the
groups CSV) with every image of equal sha256 or pHash within ``leakage_phash_distance`` bits, so no
photo and no near-copy of it is on both sides. The build then checks this (leakage) and the labels
(boxes inside the image, valid class ids) and reports what it found.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml

from .wide import CompositeDef, compose_split

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
REPO_ROOT = Path(__file__).resolve().parents[2]
BOX_TOLERANCE = 0.01  # boxes may overhang the image by this fraction of its side; they are clipped


# ------------------------------------------------------------------------------------------ locations
def datasets_dir() -> Path:
    """The repo's ``datasets/`` folder of definitions."""
    return REPO_ROOT / "datasets"


def shared_data_root() -> Path:
    """The shared data folder: ``$CLEANUP_VERIFY_DATA`` or ``../shared/data`` next to the repo."""
    env = os.environ.get("CLEANUP_VERIFY_DATA")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data")


def project_root() -> Path:
    """The project folder: the source checkout this package runs from (it holds pyproject.toml), else the
    current folder."""
    return REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else Path.cwd()


def default_out_dir(name: str) -> Path:
    """Where ``dataset build NAME`` writes by default: ``<project>/build/datasets/NAME`` (git ignores
    build/), so a model card can name it relative to the project."""
    return project_root() / "build" / "datasets" / name


# ---------------------------------------------------------------------------------------- definitions
@dataclass(frozen=True)
class SourceDef:
    """Labelled photos: ``images``/``labels`` folders (YOLO txt, normalised ``cls cx cy w h``)."""

    name: str
    images: str
    labels: str
    class_names: tuple[str, ...]
    material_map: tuple[str, ...] = ()
    val_fraction: float = 0.0  # fraction of copy groups put in val, in [0, 1]
    repeat: int = 1  # training copies of each train image (weights a domain), >= 1
    groups_csv: str | None = None  # path,group,status; group -1 = ambiguous (image left out)
    missing_labels: str = "skip"  # image without a label file: "skip" or "background"
    every: int = 1  # keep every n-th image (sorted by name), >= 1


@dataclass(frozen=True)
class ImageSetDef:
    """Unlabelled images of one folder, optionally filtered by file name, every ``every``-th kept."""

    images: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    every: int = 1


@dataclass(frozen=True)
class DatasetDef:
    name: str
    sources: tuple[SourceDef, ...]
    backgrounds: tuple[ImageSetDef, ...] = ()
    holdout_negatives: tuple[ImageSetDef, ...] = ()
    classes: str = "single"  # "single" (one class 'litter') or "materials"
    materials: tuple[str, ...] = ()
    seed: int = 0
    leakage_phash_distance: int = 4
    eval_only: bool = False
    description: str = ""
    never_near: tuple[str, ...] = ()  # folders (e.g. the final evaluation split) no image may copy
    composite: "CompositeDef | None" = None  # wide-scene composites (pipeline.detect.wide), single class only

    @property
    def names(self) -> tuple[str, ...]:
        return ("litter",) if self.classes == "single" else self.materials

    def class_map(self, source: SourceDef) -> list[int]:
        """Dataset class id of each of ``source``'s class ids."""
        if self.classes == "single":
            return [0] * len(source.class_names)
        return [self.materials.index(m) for m in source.material_map]


def load_definition(name_or_path: str) -> DatasetDef:
    """Read a definition by name (``datasets/<name>.yaml``) or path. Raises ValueError when invalid."""
    p = Path(name_or_path)
    if not p.suffix:
        p = datasets_dir() / f"{name_or_path}.yaml"
    if not p.is_file():
        known = ", ".join(sorted(x.stem for x in datasets_dir().glob("*.yaml")))
        raise ValueError(f"no dataset definition {name_or_path!r} (known: {known})")
    d = yaml.safe_load(p.read_text())
    try:
        sources = tuple(SourceDef(**{**s, "class_names": tuple(s["class_names"]),
                                     "material_map": tuple(s.get("material_map", ()))}) for s in d["sources"])
        sets = {k: tuple(ImageSetDef(**{**b, "include": tuple(b.get("include", ())),
                                        "exclude": tuple(b.get("exclude", ()))}) for b in d.get(k) or ())
                for k in ("backgrounds", "holdout_negatives")}
        defn = DatasetDef(name=d["name"], sources=sources, classes=d.get("classes", "single"),
                          materials=tuple(d.get("materials", ())), seed=int(d.get("seed", 0)),
                          leakage_phash_distance=int(d.get("leakage_phash_distance", 4)),
                          eval_only=bool(d.get("eval_only", False)), description=d.get("description", ""),
                          never_near=tuple(d.get("never_near", ())),
                          composite=CompositeDef.from_dict(d["composite"]) if d.get("composite") else None,
                          **sets)
    except (KeyError, TypeError) as e:
        raise ValueError(f"{p}: invalid dataset definition: {e}") from e
    if defn.composite and defn.classes != "single":
        raise ValueError(f"{p}: composite images are labelled 'litter' only: classes must be 'single'")
    if defn.classes not in ("single", "materials"):
        raise ValueError(f"{p}: classes must be 'single' or 'materials'")
    for s in defn.sources:
        if defn.classes == "materials" and (len(s.material_map) != len(s.class_names)
                                            or any(m not in defn.materials for m in s.material_map)):
            raise ValueError(f"{p}: source {s.name}: material_map must name a material for every class")
        if not 0.0 <= s.val_fraction <= 1.0 or s.repeat < 1:
            raise ValueError(f"{p}: source {s.name}: val_fraction in [0, 1] and repeat >= 1 required")
    return defn


# --------------------------------------------------------------------------------------------- labels
@dataclass(frozen=True)
class LabelProblem:
    path: str
    line: int
    message: str


def read_yolo_labels(path: Path, n_classes: int) -> tuple[np.ndarray, list[LabelProblem]]:
    """Parse a YOLO label file into float (N, 5) ``cls cx cy w h`` (normalised, boxes clipped inside the
    image). Lines with a bad class id, a box outside the image by more than ``BOX_TOLERANCE``, zero size
    or a wrong field count are dropped and reported."""
    rows: list[list[float]] = []
    problems: list[LabelProblem] = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            vals = [float(x) for x in parts]
        except ValueError:
            problems.append(LabelProblem(str(path), i, "not numbers"))
            continue
        if len(vals) != 5:
            problems.append(LabelProblem(str(path), i, f"{len(vals)} fields, expected 5 (cls cx cy w h)"))
            continue
        c, cx, cy, w, h = vals
        if c != int(c) or not 0 <= int(c) < n_classes:
            problems.append(LabelProblem(str(path), i, f"class id {c:g} not in 0..{n_classes - 1}"))
            continue
        x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        if min(x1, y1) < -BOX_TOLERANCE or max(x2, y2) > 1 + BOX_TOLERANCE or w <= 0 or h <= 0:
            problems.append(LabelProblem(str(path), i, f"box {cx:.3f} {cy:.3f} {w:.3f} {h:.3f} outside the image"))
            continue
        x1, y1, x2, y2 = max(x1, 0.0), max(y1, 0.0), min(x2, 1.0), min(y2, 1.0)
        rows.append([int(c), (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1])
    return np.asarray(rows, dtype=np.float64).reshape(-1, 5), problems


# --------------------------------------------------------------------------------------------- hashes
def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def image_phash(path: Path) -> int:
    """64-bit DCT perceptual hash (imagehash.phash) of the decoded image, as an int."""
    import imagehash
    from PIL import Image

    with Image.open(path) as im:
        im.draft("RGB", (256, 256))  # JPEG: decode at reduced size, same hash up to a bit or two
        return int(str(imagehash.phash(im.convert("RGB"))), 16)


def hash_images(paths: list[Path], cache_file: Path | None = None) -> dict[str, tuple[str, int]]:
    """``{str(path): (sha256, phash)}``, cached in ``cache_file`` by path, size and mtime."""
    cache: dict[str, list] = {}
    if cache_file and cache_file.is_file():
        try:
            cache = json.loads(cache_file.read_text())
        except ValueError:
            cache = {}
    out: dict[str, tuple[str, int]] = {}
    for p in paths:
        st = p.stat()
        key = f"{p}|{st.st_size}|{st.st_mtime_ns}"
        if key in cache:
            out[str(p)] = (cache[key][0], int(cache[key][1], 16))
            continue
        sha, ph = file_sha256(p), image_phash(p)
        cache[key] = [sha, f"{ph:016x}"]
        out[str(p)] = (sha, ph)
    if cache_file:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cache))
    return out


def phash_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances (bits, 0-64) between every hash of ``a`` (uint64, M) and of ``b`` (N): (M, N)."""
    x = np.bitwise_xor(a.astype(np.uint64)[:, None], b.astype(np.uint64)[None, :])
    return np.unpackbits(x.view(np.uint8).reshape(x.shape + (8,)), axis=-1).sum(-1)


# ---------------------------------------------------------------------------------------------- build
@dataclass
class ImageItem:
    """One image of the dataset as built."""

    source: str
    path: str  # the shared photo
    name: str  # <source>__<file name>, unique within the dataset
    split: str  # train | val
    group: str
    sha256: str
    phash: str
    boxes: int
    labels: list[list[float]] = field(default_factory=list, repr=False)
    meta: dict = field(default_factory=dict)  # composites: background, scene, item source photos


@dataclass
class BuildReport:
    name: str
    out_dir: str
    data_yaml: str
    counts: dict[str, int]
    boxes: dict[str, int]
    label_problems: list[LabelProblem]
    leaks: list[str]  # "train_path ~ val_path (how)"
    skipped: list[str]  # images left out, with the reason

    @property
    def ok(self) -> bool:
        return not self.leaks

    def summary(self) -> str:
        lines = [f"dataset {self.name}: {self.data_yaml}",
                 "  images: " + ", ".join(f"{k} {v}" for k, v in self.counts.items()),
                 "  boxes: " + ", ".join(f"{k} {v}" for k, v in self.boxes.items()),
                 f"  label problems: {len(self.label_problems)} (bad lines dropped)",
                 f"  left out: {len(self.skipped)}",
                 f"  leakage train/val (sha256, pHash): {len(self.leaks)}"]
        lines += [f"    {p.path}:{p.line}: {p.message}" for p in self.label_problems[:20]]
        lines += [f"    leak: {x}" for x in self.leaks[:20]]
        return "\n".join(lines)


def _list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ValueError(f"no such folder: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _image_set(root: Path, s: ImageSetDef) -> list[Path]:
    ps = _list_images(root / s.images)
    if s.include:
        ps = [p for p in ps if p.name in s.include]
    ps = [p for p in ps if p.name not in s.exclude]
    return ps[:: max(1, s.every)]


def _read_groups(csv_path: Path, root: Path) -> dict[str, str]:
    """``{absolute image path: group id}`` from a groups CSV (``path,group,status``), '-1' = ambiguous."""
    out: dict[str, str] = {}
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            out[str(root / row["path"])] = row["group"]
    return out


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def _unit(seed: int, key: str) -> float:
    """A deterministic number in [0, 1) for ``key``."""
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:12], 16) / float(1 << 48)


def build_dataset(defn: DatasetDef, out_dir: Path, data_root: Path | None = None) -> BuildReport:
    """Assemble ``defn`` under ``out_dir`` (see module docstring); returns what was built and checked.
    Raises ValueError when a source folder is missing."""
    root = Path(data_root or shared_data_root()).resolve()
    out_dir = Path(out_dir).resolve()
    problems: list[LabelProblem] = []
    skipped: list[str] = []

    # 1. read labelled sources
    entries: list[tuple[SourceDef, Path, np.ndarray]] = []
    for src in defn.sources:
        groups_map = _read_groups_cached(root / src.groups_csv, root) if src.groups_csv else {}
        cmap = defn.class_map(src)
        for img in _list_images(root / src.images)[:: max(1, src.every)]:
            if groups_map and groups_map.get(str(img)) == "-1" and src.val_fraction > 0:
                skipped.append(f"{img}: ambiguous copy group (could straddle the split)")
                continue
            lab = root / src.labels / (img.stem + ".txt")
            if not lab.is_file():
                if src.missing_labels == "background":
                    entries.append((src, img, np.zeros((0, 5))))
                else:
                    skipped.append(f"{img}: no label file")
                continue
            rows, probs = read_yolo_labels(lab, len(src.class_names))
            problems += probs
            if len(rows):
                rows[:, 0] = [cmap[int(c)] for c in rows[:, 0]]
            entries.append((src, img, rows))
    bgs = [p for s in defn.backgrounds for p in _image_set(root, s)]
    negs = [p for s in defn.holdout_negatives for p in _image_set(root, s)]

    # 2. hashes, near-copies of forbidden images left out, copy groups
    forbidden = [p for f in defn.never_near for p in _list_images(root / f)]
    all_paths = [e[1] for e in entries] + bgs + negs + forbidden
    hashes = hash_images(all_paths, out_dir.parent / ".hash_cache.json")
    if forbidden:
        f_sha = {hashes[str(p)][0] for p in forbidden}
        f_ph = np.array([hashes[str(p)][1] for p in forbidden], dtype=np.uint64)
        cand = [(e, e[1]) for e in entries] + [(None, p) for p in bgs]
        ph_all = np.array([hashes[str(p)][1] for _, p in cand], dtype=np.uint64)
        near = phash_distances(ph_all, f_ph).min(axis=1) <= defn.leakage_phash_distance
        bad = {str(p) for (_, p), nr in zip(cand, near) if nr or hashes[str(p)][0] in f_sha}
        skipped += [f"{p}: copy of an image under never_near" for p in sorted(bad)]
        entries = [e for e in entries if str(e[1]) not in bad]
        bgs = [p for p in bgs if str(p) not in bad]
    n = len(entries)
    uf = _UnionFind(n)
    by_key: dict[str, int] = {}
    for i, (src, img, _) in enumerate(entries):
        keys = [f"sha:{hashes[str(img)][0]}"]
        if src.groups_csv:
            g = _read_groups_cached(root / src.groups_csv, root).get(str(img))
            if g is not None and g != "-1":
                keys.append(f"grp:{src.groups_csv}:{g}")
        for k in keys:
            if k in by_key:
                uf.union(i, by_key[k])
            else:
                by_key[k] = i
    ph = np.array([hashes[str(e[1])][1] for e in entries], dtype=np.uint64)
    if n:
        d = phash_distances(ph, ph)
        for i, j in zip(*np.nonzero(np.triu(d <= defn.leakage_phash_distance, 1))):
            uf.union(int(i), int(j))

    # 3. split by group
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(uf.find(i), []).append(i)
    split = ["train"] * n
    for rep, idx in members.items():
        frac = min(entries[i][0].val_fraction for i in idx)
        key = min(hashes[str(entries[i][1])][0] for i in idx)  # content-derived, order-free group key
        if frac >= 1.0 or (frac > 0 and _unit(defn.seed, key) < frac):
            for i in idx:
                split[i] = "val"

    # 4. write
    items: list[ImageItem] = []
    for i, (src, img, rows) in enumerate(entries):
        items.append(ImageItem(src.name, str(img), f"{src.name}__{img.name}", split[i], f"g{uf.find(i)}",
                               hashes[str(img)][0], f"{hashes[str(img)][1]:016x}", len(rows), rows.tolist()))
    for p in bgs:
        items.append(ImageItem("background", str(p), f"background__{p.parent.name}__{p.name}", "train",
                               "background", hashes[str(p)][0], f"{hashes[str(p)][1]:016x}", 0, []))
    if defn.composite:  # wide scenes: train composites train, val composites are their own list (val_wide)
        comps = compose_split(defn.composite, root, [(src.name, img, rows, split[i]) for i, (src, img, rows)
                                                     in enumerate(entries)], out_dir)
        ch = hash_images([Path(c.path) for c in comps])
        for c in comps:
            sha, phv = ch[c.path]
            items.append(ImageItem("wide", c.path, f"wide__{Path(c.path).name}",
                                   "train" if c.split == "train" else "val_wide", f"scene:{c.scene}", sha,
                                   f"{phv:016x}", len(c.labels), [list(r) for r in c.labels],
                                   {"background": c.background, "scene": c.scene,
                                    "item_sources": [str(Path(x).relative_to(root)) for x in c.item_sources]}))
    if defn.eval_only:
        for it in items:
            if it.split == "train":
                skipped.append(f"{it.path}: eval-only dataset, not a val image")
        items = [it for it in items if it.split == "val"]
    lists = _write_tree(defn, items, out_dir)
    neg_list = out_dir / "negatives.txt"
    neg_list.write_text("".join(f"{p}\n" for p in negs))

    # 5. check leakage train <-> val, and held-out negatives <-> train
    leaks = check_leakage(items, defn.leakage_phash_distance)
    train_ph = np.array([int(it.phash, 16) for it in items if it.split == "train"], dtype=np.uint64)
    train_paths = [it.path for it in items if it.split == "train"]
    for p in negs:
        if len(train_ph):
            dd = phash_distances(np.array([hashes[str(p)][1]], dtype=np.uint64), train_ph)[0]
            j = int(np.argmin(dd))
            if dd[j] <= defn.leakage_phash_distance:
                leaks.append(f"{train_paths[j]} ~ held-out negative {p} (pHash distance {int(dd[j])})")

    data = {
        "path": str(out_dir),
        "train": str(lists["train"]),
        "val": str(lists["val"]),
        "nc": len(defn.names),
        "names": {i: n_ for i, n_ in enumerate(defn.names)},
        "negatives": str(neg_list),
        **({"val_wide": str(lists["val_wide"])} if "val_wide" in lists else {}),
        "cleanup_verify": {"definition": defn.name, "seed": defn.seed, "classes": defn.classes,
                           "eval_only": defn.eval_only},
    }
    data_yaml = out_dir / "data.yaml"
    data_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    if "val_wide" in lists:  # the wide val split alone, for `evaluate --data data_wide.yaml`
        (out_dir / "data_wide.yaml").write_text(yaml.safe_dump({**data, "val": data["val_wide"]}, sort_keys=False))
    (out_dir / "manifest.json").write_text(json.dumps(
        {"definition": defn.name, "items": [{k: v for k, v in asdict(it).items() if k != "labels"}
                                            for it in items], "negatives": [str(p) for p in negs]},
        indent=1))
    counts = {s: sum(1 for it in items if it.split == s) for s in ("train", "val", "val_wide")}
    counts["train_composites"] = sum(1 for it in items if it.split == "train" and it.source == "wide")
    counts["train_with_repeats"] = sum(1 for _ in (lists["train"].read_text().splitlines()))
    counts["backgrounds"] = len(bgs)
    counts["holdout_negatives"] = len(negs)
    boxes = {s: sum(it.boxes for it in items if it.split == s) for s in ("train", "val", "val_wide")}
    return BuildReport(defn.name, str(out_dir), str(data_yaml), counts, boxes, problems, leaks, skipped)


_groups_cache: dict[str, dict[str, str]] = {}


def _read_groups_cached(csv_path: Path, root: Path) -> dict[str, str]:
    k = str(csv_path)
    if k not in _groups_cache:
        _groups_cache[k] = _read_groups(csv_path, root)
    return _groups_cache[k]


def _write_tree(defn: DatasetDef, items: list[ImageItem], out_dir: Path) -> dict[str, Path]:
    """Symlinks, remapped labels and list files; returns ``{"train": list file, "val": list file}``."""
    import shutil

    for sub in ("images", "labels"):
        if (out_dir / sub).exists():
            shutil.rmtree(out_dir / sub)
    for cache in out_dir.glob("*.cache"):
        cache.unlink()
    lines: dict[str, list[str]] = {"train": [], "val": []}  # + "val_wide" when there are composites
    repeats = {s.name: s.repeat for s in defn.sources}
    for it in items:
        copies = repeats.get(it.source, 1) if it.split == "train" else 1
        for r in range(copies):
            name = it.name if r == 0 else f"r{r}__{it.name}"
            img = out_dir / "images" / it.split / name
            lab = out_dir / "labels" / it.split / (Path(name).stem + ".txt")
            img.parent.mkdir(parents=True, exist_ok=True)
            lab.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(it.path, img)
            lab.write_text("".join(f"{int(c)} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in it.labels))
            lines.setdefault(it.split, []).append(str(img))
    out = {}
    for s, ls in lines.items():
        out[s] = out_dir / f"{s}.txt"
        out[s].write_text("".join(f"{x}\n" for x in ls))
    return out


def check_leakage(items: list[ImageItem], max_phash_distance: int) -> list[str]:
    """Train/val pairs that are the same file (sha256) or near copies (pHash distance <= the limit)."""
    tr = [it for it in items if it.split == "train" and it.source != "background"]
    va = [it for it in items if it.split in ("val", "val_wide")]
    if not tr or not va:
        return []
    leaks = []
    shas = {it.sha256: it for it in tr}
    for v in va:
        if v.sha256 in shas:
            leaks.append(f"{shas[v.sha256].path} ~ {v.path} (same sha256)")
    d = phash_distances(np.array([int(it.phash, 16) for it in tr], dtype=np.uint64),
                        np.array([int(it.phash, 16) for it in va], dtype=np.uint64))
    for i, j in zip(*np.nonzero(d <= max_phash_distance)):
        leaks.append(f"{tr[i].path} ~ {va[j].path} (pHash distance {int(d[i, j])})")
    return leaks
