"""Build synthetic workspaces for tests, screenshots and benchmarks (no pipeline run, no real photos).

``make_workspace(root, n_entries, seed)`` fills a workspace through the public :class:`Workspace` API with
entries whose before/after thumbnails are drawn scenes (ground, landmarks, litter), detections in full-size
pixels, a verify result with a homography, and score cards with flags. Deterministic for a given seed.

Every 7th entry reuses the before photo of the entry before it (an exact duplicate, with a
``DUPLICATE_PHOTO`` flag); every 11th has an unreadable after photo (``needs_review``/``error``).
With ``hostile=True`` the first entry carries markup in its id, participant, team, photo path and flag
message, to test escaping.
"""
from __future__ import annotations

import hashlib
import io
import json
import random
from pathlib import Path

from pipeline.config import Config
from pipeline.types import (Detections, Flag, LitterChange, Location, PhotoMeta, PhotoRef, Problem, Reported,
                            SceneMatch, ScoreCard, Submission)
from pipeline.store import Workspace

FULL_W, FULL_H = 4000, 3000  # full-size photo in pixels
MODEL_ID = "synthetic-yolo@000000000000"
HOSTILE_PARTICIPANT = "<script>alert(1)</script>"
HOSTILE_PATH = 'before/"><img src=x onerror=alert(1)>.jpg'
HOSTILE_ENTRY_ID = 'E-"><svg onload=alert(2)>'

_GIVEN = ["Anh", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Hương", "Khánh", "Lan", "Linh", "Minh", "Nam",
          "Ngọc", "Phúc", "Quang", "Thảo", "Trang", "Tuấn", "Vy"]
_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Võ", "Đặng", "Bùi"]
_TEAMS = ["Chủ nhật xanh Huế", "Đoàn phường Vĩnh Ninh", "CLB Sống xanh", "Trường THPT Quốc Học", None, None]


def _sha(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def _thumb(rng: random.Random, boxes: list[tuple[float, float, float, float]], shift: tuple[float, float],
           landmarks: list[tuple[float, float, float]], ground: tuple[int, int, int], side: int) -> bytes:
    """A JPEG thumbnail (longest side ``side``) of a drawn scene; coordinates in full-size pixels."""
    from PIL import Image, ImageDraw

    s = side / max(FULL_W, FULL_H)
    w, h = round(FULL_W * s), round(FULL_H * s)
    im = Image.new("RGB", (w, h), ground)
    d = ImageDraw.Draw(im)
    dx, dy = shift
    for x, y, r in landmarks:
        d.ellipse([(x + dx - r) * s, (y + dy - r) * s, (x + dx + r) * s, (y + dy + r) * s], fill=(40, 70, 35))
    for x1, y1, x2, y2 in boxes:
        col = rng.choice([(230, 230, 235), (30, 90, 200), (220, 60, 40), (250, 200, 40)])
        d.rectangle([x1 * s, y1 * s, x2 * s, y2 * s], fill=col, outline=(20, 20, 20))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def make_workspace(root: str | Path, n_entries: int, seed: int = 0, *, hostile: bool = False,
                   thumb_side: int = 320, thumbs: bool = True) -> list[str]:
    """Create (or extend) a workspace at ``root`` with ``n_entries`` synthetic entries; returns their ids
    in arrival order."""
    rng = random.Random(seed)
    ws = Workspace(root)
    ws.relax_durability()  # test data: speed over durability
    try:
        cfg = Config()
        ws.start_run("synthetic", json.dumps(cfg.to_dict(), sort_keys=True), cfg.hash)
        ids: list[str] = []
        prev_before: tuple[str, str, str] | None = None  # (entry_id, rel_path, sha)
        prev_scene = None  # (boxes, landmarks, ground) of the previous entry's before photo
        for i in range(n_entries):
            entry_id = HOSTILE_ENTRY_ID if hostile and i == 0 else f"E{seed:02d}-{i:05d}"
            participant = HOSTILE_PARTICIPANT if hostile and i == 0 else \
                f"{rng.choice(_FAMILY)} {rng.choice(['Văn', 'Thị', 'Minh', 'Thu'])} {rng.choice(_GIVEN)}"
            team = '"><img src=x onerror=alert(1)>' if hostile and i == 0 else rng.choice(_TEAMS)
            before_rel = HOSTILE_PATH if hostile and i == 0 else "before/IMG_0001.jpg"
            after_rel = "after/IMG_0002.jpg"
            reuse = prev_before is not None and i % 7 == 3
            broken_after = i % 11 == 5
            sub = Submission(
                entry_id=entry_id, participant=participant, team=team,
                kind="collective" if team else "individual", event_date=f"2026-06-{1 + i % 28:02d}",
                location=Location(lat=16.46 + rng.uniform(-.05, .05), lon=107.59 + rng.uniform(-.05, .05),
                                  address=f"Phường {1 + i % 27}, Huế"),
                reported=Reported(participants=rng.randint(1, 40), kg=round(rng.uniform(1, 200), 1)),
                photos=(PhotoRef(entry_id, "before", Path("/batch") / entry_id / before_rel, before_rel),
                        PhotoRef(entry_id, "after", Path("/batch") / entry_id / after_rel, after_rel)))
            ws.put_submission(sub, "synthetic")

            if reuse and prev_scene is not None:  # the reused photo shows the earlier entry's scene
                boxes, landmarks, ground = prev_scene
            else:
                boxes = []
                for _ in range(rng.randint(0, 9)):
                    x, y = rng.uniform(200, FULL_W - 600), rng.uniform(600, FULL_H - 500)
                    boxes.append((x, y, x + rng.uniform(120, 420), y + rng.uniform(100, 380)))
                landmarks = [(rng.uniform(0, FULL_W), rng.uniform(0, FULL_H), rng.uniform(60, 200))
                             for _ in range(5)]
                ground = (rng.randint(110, 170), rng.randint(100, 150), rng.randint(60, 100))
            n_before = len(boxes)
            removed = rng.randint(0, n_before)
            dx, dy = rng.uniform(-250, 250), rng.uniform(-150, 150)
            after_boxes = [(x1 + dx, y1 + dy, x2 + dx, y2 + dy) for x1, y1, x2, y2 in boxes[removed:]]

            if reuse:
                assert prev_before is not None
                before_sha = prev_before[2]
            else:
                before_sha = _sha(seed, entry_id, "before")
                ws.put_photo(PhotoMeta(before_sha, 3_000_000, "JPEG", FULL_W, FULL_H, "2026-06-01T07:30:00",
                                       camera_make="Samsung", camera_model="SM-A525F"), entry_id, before_rel)
                if thumbs:
                    ws.thumb_path(before_sha).write_bytes(_thumb(rng, boxes, (0, 0), landmarks, ground, thumb_side))
                ws.put_result(before_sha, "detect", "1", "synthetic", _det(boxes, rng).to_dict(), MODEL_ID)
            ws.set_entry_photo(entry_id, before_rel, before_sha, None)

            after_sha = None if broken_after else _sha(seed, entry_id, "after")
            if after_sha is None:
                ws.set_entry_photo(entry_id, after_rel, None,
                                   Problem.worded("PHOTO_TRUNCATED", "the file ends before the image data does", after_rel))
            else:
                ws.put_photo(PhotoMeta(after_sha, 2_800_000, "JPEG", FULL_W, FULL_H, "2026-06-01T10:05:00",
                                       camera_make="Samsung", camera_model="SM-A525F"), entry_id, after_rel)
                if thumbs:
                    ws.thumb_path(after_sha).write_bytes(
                        _thumb(rng, after_boxes, (dx, dy), landmarks, ground, thumb_side))
                ws.put_result(after_sha, "detect", "1", "synthetic", _det(after_boxes, rng).to_dict(), MODEL_ID)
                ws.set_entry_photo(entry_id, after_rel, after_sha, None)
                scene = SceneMatch(before_sha, after_sha, True, rng.randint(60, 400), 600, 0.5, 0.9,
                                   (1.0, 0.0, dx, 0.0, 1.0, dy, 0.0, 0.0, 1.0))
                change = LitterChange(before_sha, after_sha, n_before, removed, n_before - removed, 0,
                                      0.01 * n_before, 0.01 * (n_before - removed))
                ws.put_entry_result(entry_id, "verify", "synthetic",
                                    {"pairs": [{"scene": scene.to_dict(), "change": change.to_dict()}]})

            flags: list[Flag] = []
            if reuse:
                assert prev_before is not None
                flags.append(Flag.worded("DUPLICATE_PHOTO", "high",
                                  f"photo {before_rel} is the same as {prev_before[1]} of entry {prev_before[0]}",
                                  f"ảnh {before_rel} trùng với ảnh {prev_before[1]} của bài {prev_before[0]}",
                                  (before_rel,)))
            if broken_after:
                flags.append(Flag.worded("PHOTO_UNREADABLE", "medium", f"{after_rel} could not be read",
                                  f"không đọc được {after_rel}", (after_rel,)))
            if n_before == 0:
                flags.append(Flag.worded("NO_LITTER_BEFORE", "medium", "no litter was detected in the before photo",
                                  "không phát hiện rác trong ảnh trước"))
            if rng.random() < 0.1:
                flags.append(Flag.worded("EXIF_TIME_GAP", "low", "before and after were taken 80 hours apart",
                                  "ảnh trước và sau chụp cách nhau 80 giờ"))
            if hostile and i == 0:
                flags.append(Flag.worded("CLAIM_IMPLAUSIBLE", "info", "<b>bold</b> claim & <i>more</i>", "<u>vi</u>"))
            frac = removed / n_before if n_before else 0.0
            comps = {"removed": round(frac, 3), "amount": round(min(1.0, n_before / 10), 3),
                     "evidence": 0.2 if reuse else (0.5 if broken_after else 0.9)}
            score = None if broken_after and i % 2 else round(100 * (0.55 * comps["removed"] + 0.2 * comps["amount"]
                                                                     + 0.25 * comps["evidence"]), 1)
            status = "error" if score is None else ("needs_review" if flags else "scored")
            card = ScoreCard(entry_id, score, status, comps, tuple(flags), MODEL_ID, cfg.hash,
                             f"{removed} of {n_before} litter items removed.",
                             f"Đã dọn {removed} trên {n_before} vật rác.")
            ws.put_entry_result(entry_id, "score", "synthetic", card.to_dict())
            ids.append(entry_id)
            prev_before = (entry_id, before_rel, before_sha)
            prev_scene = (boxes, landmarks, ground)
        return ids
    finally:
        ws.close()


def _det(boxes: list[tuple[float, float, float, float]], rng: random.Random) -> Detections:
    """Detections for drawn boxes, plus one low-confidence box under the operating threshold."""
    xyxy = list(boxes) + [(10.0, 10.0, 90.0, 90.0)]
    conf = [round(rng.uniform(0.35, 0.95), 3) for _ in boxes] + [0.05]
    return Detections(xyxy, conf, [0] * len(xyxy), ("litter",), MODEL_ID, (FULL_W, FULL_H))
