"""Dedup results do not depend on how the photos were split into batches or on their arrival order (issue 21:
the intake API scores entries in small batches, so its export must equal one folder batch of the same entries).

Photos are drawn by the tests (pipeline-free: the entries are recorded, hashed and indexed as the runner does,
then matched with :func:`pipeline.dedup.query.query_new` once per batch, as ``run_batch`` does for each of
the intake worker's small batches); nothing is read from ../shared/data.
"""
from __future__ import annotations

import hashlib
import json

import pytest
from PIL import Image

from pipeline.config import DedupConfig
from pipeline.dedup.flags import dedup_result, gather
from pipeline.dedup.query import match_key, query_new
from pipeline.store import Workspace

from test_dedup import background, crop, draw, jpeg, put_entry, scene

SIZE = (640, 480)


def _entries() -> list[tuple[str, list[tuple[str, str, bytes]]]]:
    """Four entries photographing one spot of a fixed camera with a car at four places (each pair: the
    same spot, SAME_SPOT_PHOTO both ways, several per entry, so their order shows), two entries reusing
    the photo of a fifth (a crop and a mirrored copy: DUPLICATE_PHOTO with the hash and distance of the
    match), every entry with an unrelated after photo."""
    bg = background(141, SIZE)
    _, objs = scene(141, SIZE, objects=8)
    frames = [draw(bg, objs + [("rectangle", (60 + 130 * k, 300, 150 + 130 * k, 350), (200, 30, 30))])
              for k in range(4)]
    orig, _ = scene(142, SIZE)
    befores = [jpeg(f) for f in frames] + [jpeg(orig, 92), jpeg(crop(orig, 0.08, 0.06, 0.3, 0.6), 85),
                                           jpeg(orig.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 80)]
    return [(f"E{i}", [("before/1.jpg", "before", b), ("after/1.jpg", "after", jpeg(scene(150 + i, SIZE)[0]))])
            for i, b in enumerate(befores, start=1)]


def _arrive(root, entries, batches: list[list[int]], cfg: DedupConfig) -> tuple[dict, set]:
    """Record ``entries`` batch after batch (indexes into ``entries``, in arrival order; one round, as the
    intake worker's batches are), matching each batch's photos when it arrives; then every entry's dedup
    flags (code and facts, in their order) and the stored match rows."""
    with Workspace(root) as ws:
        for batch in batches:
            for i in batch:
                put_entry(ws, entries[i][0], "api", entries[i][1])
            query_new(ws, [hashlib.sha256(d).hexdigest() for i in batch for _, _, d in entries[i][1]], cfg)
        flags = {e: [json.dumps({"code": f.code, **f.params}, sort_keys=True)
                     for f in dedup_result(gather(ws, e, cfg), cfg).flags] for e, _ in entries}
        rows = {tuple(r) for r in ws.conn.execute("SELECT photo, other, kind, distance, hash_name, difference "
                                                  "FROM dedup_matches WHERE key=?", (match_key(cfg),))}
    return flags, rows


@pytest.mark.parametrize("cfg", [DedupConfig(), DedupConfig(max_confirm=2)], ids=["default", "capped"])
def test_small_batches_in_any_order_give_the_flags_of_one_batch(tmp_path, cfg):
    """One batch of every entry against the same entries arriving two by two, in reverse and in a shuffled
    order: the same stored matches (each pair decided from both ends, as inside one batch), and every
    entry's flags equal, in the same order. ``capped``: with ``max_confirm`` 2 the frames have more
    candidates than the cap, so a new frame changes which others an earlier frame confirms (it is queried
    again in full) and ties go by sha256, not by arrival."""
    entries = _entries()
    n = len(entries)
    one_flags, one_rows = _arrive(tmp_path / "one", entries, [list(range(n))], cfg)
    codes = {e: [json.loads(f)["code"] for f in fl] for e, fl in one_flags.items()}
    # the fixture's point: several same-spot flags (three of the other frames; two or fewer when capped)
    assert codes["E1"] == ["SAME_SPOT_PHOTO"] * (3 if cfg.max_confirm > 3 else len(codes["E1"])) != []
    assert "DUPLICATE_PHOTO" in codes["E6"] and "DUPLICATE_PHOTO" in codes["E7"]
    for name, order in (("reverse", list(range(n))[::-1]), ("shuffled", [3, 6, 0, 5, 2, 4, 1])):
        flags, rows = _arrive(tmp_path / name, entries, [order[i:i + 2] for i in range(0, n, 2)], cfg)
        assert flags == one_flags, name
        assert rows == one_rows, name
