"""Judges' detection corrections -> a YOLO detection dataset the detector's training can include.

For every photo a judge corrected (per photo sha256; when several models were corrected, the model of the
latest correction): labels = the model's stored boxes at or above the operating threshold, minus those
marked ``not_litter``, plus the ``missed`` boxes judges drew. Coordinates are normalised to [0, 1], so they
hold for any size of the same upright image.

Images: the workspace keeps no original photos, only thumbnails (upright, longest side
``load.thumb_max_side``). ``images="thumbs"`` (default) writes those; they are always there but small.
``images="original"`` reads the photo from the batch path recorded at ingest, checks its sha256, and
re-encodes it upright (EXIF orientation applied, JPEG quality 95); when the file is gone or changed it
falls back to the thumbnail and counts it. Layout::

    OUT/images/train/<sha256>.jpg   OUT/labels/train/<sha256>.txt   OUT/data.yaml   OUT/corrections.jsonl
"""
from __future__ import annotations

import hashlib
import json
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..report.site import write_folder_atomically
from ..report.views import operating_confidence
from ..types import Correction, Detections
from ..store import Workspace
from ..store import queries, reviews


@dataclass(frozen=True)
class ExportSummary:
    images: int  # images written
    boxes: int  # label lines written
    originals: int  # images taken from the original photo (the rest are thumbnails)
    skipped: int  # corrected photos with neither thumbnail nor original


@dataclass(frozen=True)
class PhotoLabels:
    """The corrected labels of one photo: ``boxes`` as (class id, xyxy in full-size pixels)."""

    sha256: str
    model_id: str
    image_size: tuple[int, int]
    boxes: tuple[tuple[int, tuple[float, float, float, float]], ...]
    class_names: tuple[str, ...]


def corrected_labels(ws: Workspace) -> list[PhotoLabels]:
    """The corrected label set of every corrected photo, ordered by sha256."""
    conf = operating_confidence(ws)
    by_photo: dict[str, list[Correction]] = defaultdict(list)
    for c in reviews.all_corrections(ws):
        by_photo[c.sha256].append(c)
    out: list[PhotoLabels] = []
    for sha in sorted(by_photo):
        latest = max(by_photo[sha], key=lambda c: c.created_at)
        corr = [c for c in by_photo[sha] if c.model_id == latest.model_id]
        det = stored_detections(ws, sha, latest.model_id)
        rejected = {c.det_index for c in corr if c.kind == "not_litter"}
        boxes: list[tuple[int, tuple[float, float, float, float]]] = []
        names: tuple[str, ...] = ("litter",)
        if det is not None:
            names = det.class_names or names
            size = (int(det.image_size[0]), int(det.image_size[1]))
            for i in range(len(det)):
                if det.confidence[i] >= conf and i not in rejected:
                    boxes.append((int(det.class_id[i]), tuple(float(v) for v in det.xyxy[i])))  # type: ignore[misc]
        else:
            meta = ws.photo_meta(sha)
            size = (int(meta.width or 0), int(meta.height or 0)) if meta else (0, 0)
        boxes += [(0, c.box) for c in corr if c.kind == "missed"]
        if size[0] > 0 and size[1] > 0:
            out.append(PhotoLabels(sha, latest.model_id, size, tuple(boxes), names))
    return out


def yolo_lines(labels: PhotoLabels) -> list[str]:
    """``class cx cy w h`` lines, normalised to [0, 1], 6 decimals; degenerate boxes dropped."""
    w, h = labels.image_size
    lines = []
    for cls, (x1, y1, x2, y2) in labels.boxes:
        x1, x2 = max(0.0, min(x1, w)), max(0.0, min(x2, w))
        y1, y2 = max(0.0, min(y1, h)), max(0.0, min(y2, h))
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        lines.append(f"{cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
    return lines


def export_corrections(ws: Workspace, out: str | Path, images: str = "thumbs") -> ExportSummary:
    """Write the YOLO dataset of all corrections to ``out`` (replaced atomically)."""
    if images not in ("thumbs", "original"):
        raise ValueError("images must be 'thumbs' or 'original'")
    labels = corrected_labels(ws)
    counts = {"images": 0, "boxes": 0, "originals": 0, "skipped": 0}
    final = Path(out).resolve()

    def fill(root: Path) -> None:
        (root / "images" / "train").mkdir(parents=True)
        (root / "labels" / "train").mkdir(parents=True)
        names = labels[0].class_names if labels else ("litter",)
        with open(root / "corrections.jsonl", "w", encoding="utf-8") as prov:
            for lab in labels:
                img = root / "images" / "train" / f"{lab.sha256}.jpg"
                from_original = images == "original" and _write_original(ws, lab.sha256, img)
                if not from_original and not _copy(ws.thumb_path(lab.sha256), img):
                    counts["skipped"] += 1
                    continue
                lines = yolo_lines(lab)
                (root / "labels" / "train" / f"{lab.sha256}.txt").write_text(
                    "".join(line + "\n" for line in lines), encoding="utf-8")
                counts["images"] += 1
                counts["boxes"] += len(lines)
                counts["originals"] += int(from_original)
                prov.write(json.dumps({"sha256": lab.sha256, "model_id": lab.model_id, "boxes": len(lines),
                                       "image": "original" if from_original else "thumbnail"}) + "\n")
        yaml_names = "\n".join(f"  {i}: {json.dumps(n)}" for i, n in enumerate(names))
        (root / "data.yaml").write_text(
            f"# judges' corrections exported by cleanup-verify\npath: {json.dumps(str(final))}\n"
            f"train: images/train\nval: images/train\nnames:\n{yaml_names}\n", encoding="utf-8")

    write_folder_atomically(final, fill)
    return ExportSummary(**counts)


def _copy(src: Path, dst: Path) -> bool:
    try:
        shutil.copyfile(src, dst)
        return True
    except OSError:
        return False


def _write_original(ws: Workspace, sha256: str, dst: Path) -> bool:
    """Re-encode the original photo upright when a recorded batch path still holds the same bytes."""
    import io

    from PIL import Image, ImageOps
    for entry_id, rel_path, _ in ws.entries_with_photo(sha256):
        sub = ws.submission(entry_id)
        for ref in (sub.photos if sub else ()):
            if ref.rel_path != rel_path:
                continue
            try:
                data = Path(ref.path).read_bytes()
            except OSError:
                continue
            if hashlib.sha256(data).hexdigest() != sha256:
                continue
            try:
                with Image.open(io.BytesIO(data)) as im:
                    ImageOps.exif_transpose(im).convert("RGB").save(dst, "JPEG", quality=95)
                return True
            except (OSError, ValueError, Image.DecompressionBombError):
                continue
    return False


def stored_detections(ws: Workspace, sha256: str, model_id: str) -> Detections | None:
    """The latest stored detections of a photo by one model, or None."""
    text = queries.latest_result_json(ws, sha256, "detect", model_id)
    if text is None:
        return None
    try:
        return Detections.from_dict(json.loads(text)).items()  # what the judge was shown
    except (KeyError, TypeError, ValueError):
        return None
