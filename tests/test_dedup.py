"""Reused-photo detection: hashes, the MIH index, matching, flags and the ``dedup`` command.

Photos are drawn by the tests (textured scenes with objects); nothing is read from ../shared/data.
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageDraw, ImageFilter

from pipeline.config import Config, DedupConfig
from pipeline.dedup import index as dindex
from pipeline.dedup.flags import (DUPLICATE_PHOTO, PHOTO_COPIED_BY_LATER, UNCHANGED_AFTER, dedup_result, gather,
                                  store_result, stored_result)
from pipeline.dedup.query import query_new
from pipeline.dedup.hashing import DedupHashes, compute_hashes, hamming, hash_base
from pipeline.dedup.match import group_matches, match_photos
from pipeline.dedup.mih import MultiIndex, brute_force, hamming_rows
from pipeline.load import load_photo
from pipeline.types import PhotoHashes, PhotoMeta, PhotoRef, Submission
from pipeline.store import Workspace, queries

CFG = Config()


# ------------------------------------------------------------------------------------------ fixtures
def scene(seed: int, size: tuple[int, int] = (960, 720), objects: int = 14) -> tuple[Image.Image, list]:
    """A textured outdoor-like picture: sky/ground gradient, noise texture, coloured shapes. Returns the
    image and the list of drawn objects (so a test can draw the scene again without some of them)."""
    rng = np.random.default_rng(seed)
    w, h = size
    y = np.linspace(0, 1, h)[:, None, None]
    top, bottom = rng.uniform(60, 220, 3), rng.uniform(20, 160, 3)
    base = top * (1 - y) + bottom * y + np.zeros((h, w, 3))
    blobs = Image.fromarray(rng.integers(0, 255, (h // 24, w // 24, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
    base = 0.65 * base + 0.35 * np.asarray(blobs, float)
    base += rng.normal(0, 6, (h, w, 1))
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    objs = []
    for _ in range(objects):
        x0, y0 = rng.uniform(0, w * 0.9), rng.uniform(0, h * 0.9)
        bw, bh = rng.uniform(w * 0.03, w * 0.22), rng.uniform(h * 0.03, h * 0.22)
        objs.append((str(rng.choice(["ellipse", "rectangle"])), (x0, y0, x0 + bw, y0 + bh),
                     tuple(int(c) for c in rng.integers(0, 255, 3))))
    return draw(im, objs), objs


def draw(im: Image.Image, objs: list) -> Image.Image:
    im = im.copy()
    d = ImageDraw.Draw(im)
    for kind, box, colour in objs:
        getattr(d, kind)(box, fill=colour, outline=(0, 0, 0), width=3)
    return im


def background(seed: int, size=(960, 720)) -> Image.Image:
    im, _ = scene(seed, size, objects=0)
    return im


def jpeg(im: Image.Image, q: int = 90) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=q)
    return buf.getvalue()


def hashes_of(data: bytes, with_pdq: bool = False) -> DedupHashes:
    sha = hashlib.sha256(data).hexdigest()
    return compute_hashes(load_photo(data, CFG.load, sha256=sha).image, sha, with_pdq=with_pdq)


def crop(im: Image.Image, fx: float, fy: float, left: float = 0.5, top: float = 0.5) -> Image.Image:
    """Remove fractions fx, fy of the width/height, ``left``/``top`` of it on the left/top edge."""
    w, h = im.size
    return im.crop((round(w * fx * left), round(h * fy * top), round(w - w * fx * (1 - left)),
                    round(h - h * fy * (1 - top))))


# -------------------------------------------------------------------------------------------- hashes
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_phash_dhash_bit_identical_to_imagehash(seed):
    im, _ = scene(seed, size=(640 + 37 * seed, 480 - 11 * seed))
    a = np.asarray(im)
    h = compute_hashes(a, "x", with_pdq=True)
    pil = Image.fromarray(a)
    base = hash_base(a)
    assert max(base.size) <= 256 and base.mode == "L"
    assert h.phash == int(str(imagehash.phash(base)), 16)
    assert h.dhash == int(str(imagehash.dhash(base)), 16)
    # and within a few bits of imagehash on the image itself (the reduction moves ~1 bit)
    assert hamming(h.phash, int(str(imagehash.phash(pil)), 16)) <= 6
    assert h.phash_variants[0] == h.phash and h.pdq_variants[0] == h.pdq
    vec, q = pdqhash.compute(np.ascontiguousarray(np.asarray(pil.reduce(2))))
    assert h.pdq == np.packbits(vec.astype(bool)).tobytes() and h.pdq_quality == q
    # PDQ is opt-in (DedupConfig.use_pdq): by default neither computed nor stored; the rest is the same
    plain = compute_hashes(a, "x")
    assert plain.pdq is None and plain.pdq_quality is None and plain.pdq_variants == ()
    assert (plain.phash, plain.dhash, plain.crop_phashes, plain.thumb) == (h.phash, h.dhash, h.crop_phashes, h.thumb)
    assert DedupHashes.from_dict(json.loads(json.dumps(plain.to_dict()))) == plain


def test_variants_catch_mirror_and_rotation():
    im, _ = scene(7)
    h = compute_hashes(np.asarray(im), "a", with_pdq=True)
    for i, t in enumerate([None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270]):
        for mirrored in (False, True):
            v = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if mirrored else im
            v = v.transpose(t) if t is not None else v
            hv = compute_hashes(np.asarray(v), "b", with_pdq=True)
            k = i + (4 if mirrored else 0)
            # the transformed photo's own hash is close to the matching variant of the original ...
            assert hamming(hv.phash, h.phash_variants[k]) <= 4
            assert hamming(hv.pdq, h.pdq_variants[k]) <= 16
            # ... and far from the original as it is (unless it is the original)
            if k:
                assert hamming(hv.phash, h.phash) > 16


def test_compute_hashes_refuses_bad_arrays():
    with pytest.raises(ValueError):
        compute_hashes(np.zeros((10, 10), np.uint8), "x")
    with pytest.raises(ValueError):
        compute_hashes(np.zeros((10, 10, 3), np.float32), "x")
    h = compute_hashes(np.zeros((1, 1, 3), np.uint8), "tiny")  # degenerate but valid: no crash
    assert h.thumb_array().shape == (64, 64)


def test_hashes_round_trip_through_dict():
    h = compute_hashes(np.asarray(scene(3)[0]), "s")
    assert DedupHashes.from_dict(json.loads(json.dumps(h.to_dict()))) == h


# ----------------------------------------------------------------------------------------------- MIH
def _random_codes(rng, n, w, radius, planted):
    codes = rng.integers(0, 2**63, size=(n, w), dtype=np.uint64) * np.uint64(2) + \
        rng.integers(0, 2, size=(n, w), dtype=np.uint64)
    for _ in range(planted):  # near-duplicates at and around the radius
        i, j = rng.integers(n, size=2)
        c = codes[i].copy()
        for b in rng.choice(64 * w, rng.integers(0, radius + 3), replace=False):
            c[b // 64] ^= np.uint64(1) << np.uint64(b % 64)
        codes[j] = c
    return codes


@pytest.mark.parametrize("n,w,radius,chunk_bits", [(3000, 1, 8, None), (3000, 1, 10, 12), (2000, 4, 31, None),
                                                    (2000, 4, 31, 16),
                                                    pytest.param(400, 1, 24, None, marks=pytest.mark.slow)])  # ~5 s
def test_mih_equals_brute_force(n, w, radius, chunk_bits):
    rng = np.random.default_rng(n + w + radius)
    codes = _random_codes(rng, n, w, radius, planted=n // 10)
    idx = MultiIndex(codes, chunk_bits)
    for q in list(rng.integers(n, size=40)):
        got, want = idx.query(codes[q], radius), brute_force(codes, codes[q], radius)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    fresh = _random_codes(rng, 20, w, radius, 0)
    for c in fresh:
        got, want = idx.query(c, radius), brute_force(codes, c, radius)
        assert np.array_equal(got[0], want[0])
    full = hamming_rows(codes[:, None, :], codes[None, :, :])
    iu = np.triu_indices(n, 1)
    m = full[iu] <= radius
    assert m.sum() > n // 20  # the planted pairs are there
    for per_word in (None, 3, 5):  # the cost model's layout and two forced ones: same exact answer
        i, j, d = idx.pairs_within(radius, per_word)
        assert np.array_equal(i, iu[0][m]) and np.array_equal(j, iu[1][m]) and np.array_equal(d, full[iu][m])


@pytest.mark.parametrize("n,w,chunk_bits", [(3000, 1, None), (3000, 1, 12), (1500, 4, None)])
def test_query_many_equals_one_query_per_code_at_its_own_radius(n, w, chunk_bits):
    rng = np.random.default_rng(7 * n + w)
    radius = 10 if w == 1 else 31
    codes = _random_codes(rng, n, w, radius, planted=n // 10)
    codes[n // 2:n // 2 + 30] = codes[:30] ^ np.uint64(0b101)  # 2 bits from the first 30
    idx = MultiIndex(codes, chunk_bits)
    qs = np.concatenate([codes[:30], codes[rng.integers(n, size=30)], _random_codes(rng, 10, w, radius, 0)])
    radii = rng.integers(radius // 2, radius + 1, size=len(qs))
    q, ids, d = idx.query_many(qs, radii)
    assert len(q) >= 60 + 30  # each stored code finds itself, the first 30 their near copies too
    for k, (c, r) in enumerate(zip(qs, radii)):
        want = brute_force(codes, c, int(r))
        assert np.array_equal(ids[q == k], want[0]) and np.array_equal(d[q == k], want[1])
    assert [len(a) for a in idx.query_many(qs[:0], radius)] == [0, 0, 0]


def _clustered_codes(rng, n, w):
    """Codes as real window pHashes come: two thirds within 0-12 bits of one of 5 centres (smooth sky, road),
    some identical, the rest uniform."""
    codes = _random_codes(rng, n, w, 0, 0)
    centres = codes[:5].copy()
    for i in np.flatnonzero(rng.random(n) < 2 / 3):
        c = centres[rng.integers(5)].copy()
        for b in rng.choice(64 * w, rng.integers(0, 13), replace=False):
            c[b // 64] ^= np.uint64(1) << np.uint64(b % 64)
        codes[i] = c
    return codes


@pytest.mark.parametrize("clustered", [False, True])
@pytest.mark.parametrize("w,per_word,copies", [(1, None, False), (1, 3, False), (1, 4, True), (1, 5, False),
                                               (1, 7, True), (4, None, True), (4, 3, False)])
def test_compiled_and_numpy_queries_equal_brute_force(clustered, w, per_word, copies, monkeypatch):
    # both query paths (numba, NumPy) and both builds, every chunk layout, at radii below and above the number
    # of chunks (the refined pigeonhole leaves chunks out, or probes them one bit less)
    from pipeline.dedup import mih
    monkeypatch.setattr(mih, "COMPILED_FROM", 0)  # the compiled path on small indexes too
    mih._compiled()
    assert mih._probe_query is not None and mih._bucket_order is not None  # numba: a dependency
    rng = np.random.default_rng(11 * w + (per_word or 0) + clustered)
    n = 2500
    codes = _clustered_codes(rng, n, w) if clustered else _random_codes(rng, n, w, 12 * w, n // 10)
    top = 12 if w == 1 else 40
    qs = np.concatenate([codes[rng.integers(n, size=25)], _random_codes(rng, 5, w, 0, 0)])
    radii = rng.integers(0, top + 1, size=len(qs))
    built = MultiIndex(codes, chunks_per_word=per_word, copies=copies)
    monkeypatch.setattr(mih, "_bucket_order", None)
    plain = MultiIndex(codes, chunks_per_word=per_word, copies=copies)  # argsort build: the same tables
    assert np.array_equal(built._order_all, plain._order_all) and np.array_equal(built._starts_all, plain._starts_all)
    answers = []
    for compiled in (mih._probe_query, None):
        monkeypatch.setattr(mih, "_probe_query", compiled)
        q, ids, d = built.query_many(qs, radii)
        assert ids.dtype == np.int64 and d.dtype == np.int32
        for k, (c, r) in enumerate(zip(qs, radii)):
            want = brute_force(codes, c, int(r))
            assert np.array_equal(ids[q == k], want[0]) and np.array_equal(d[q == k], want[1])
        answers.append((q, ids, d))
    assert all(np.array_equal(a, b) for a, b in zip(*answers))
    assert len(answers[0][0]) >= 25  # each stored code finds itself at least


@pytest.mark.parametrize("clustered", [False, True])
@pytest.mark.parametrize("per_word,copies", [(3, False), (4, True)])
def test_a_query_exact_to_a_smaller_radius_keeps_what_its_probes_meet(clustered, per_word, copies, monkeypatch):
    # every code within ``exact`` bits; one within the radius only where a chunk agrees within the chunk radius
    # of the exact search; the same on both query paths
    from pipeline.dedup import mih
    monkeypatch.setattr(mih, "COMPILED_FROM", 0)  # the compiled path on small indexes too
    mih._compiled()
    rng = np.random.default_rng(5 + per_word + clustered)
    n = 3000
    codes = _clustered_codes(rng, n, 1) if clustered else _random_codes(rng, n, 1, 12, n // 5)
    qs = codes[rng.integers(n, size=40)]
    radii, exact = np.full(40, 10), rng.integers(4, 11, size=40)
    idx = MultiIndex(codes, chunks_per_word=per_word, copies=copies)
    answers = []
    for compiled in (mih._probe_query, None):
        monkeypatch.setattr(mih, "_probe_query", compiled)
        answers.append(idx.query_many(qs, radii, exact))
    assert all(np.array_equal(a, b) for a, b in zip(*answers))
    q, ids, d = answers[0]
    loose = 0
    for k, (c, e) in enumerate(zip(qs, exact)):
        near, dist = brute_force(codes, c, 10)
        rc = mih.chunk_radii(per_word, int(e))
        x = codes[near, 0] ^ c[0]
        met = np.zeros(len(near), bool)
        for ch, r in zip(idx.chunks, rc):
            met |= np.bitwise_count((x >> np.uint64(ch.shift)) & np.uint64((1 << ch.bits) - 1)) <= r
        want = (dist <= e) | met
        assert np.array_equal(ids[q == k], near[want]) and np.array_equal(d[q == k], dist[want])
        loose += int((~want).sum())
    assert loose > 0  # some codes within the radius are left out: the test can tell the two apart


def test_a_grouped_index_searches_only_the_group_asked(monkeypatch):
    from pipeline.dedup import mih
    monkeypatch.setattr(mih, "COMPILED_FROM", 0)  # the compiled path on small indexes too
    mih._compiled()
    rng = np.random.default_rng(17)
    codes = _clustered_codes(rng, 3 * 1500, 1)  # 3 groups of 1,500; the clusters span the groups
    qs, groups = codes[rng.integers(len(codes), size=30)], rng.integers(3, size=30)
    answers = []
    for compiled in (mih._bucket_order, None):  # both builds, both query paths
        monkeypatch.setattr(mih, "_bucket_order", compiled)
        monkeypatch.setattr(mih, "_probe_query", compiled and mih._probe_query)
        idx = MultiIndex(codes, 10, groups=3)
        q, ids, d = idx.query_many(qs, 10, group=groups)
        for k, (c, g) in enumerate(zip(qs, groups)):
            want = brute_force(codes[g * 1500:(g + 1) * 1500], c, 10)
            assert np.array_equal(ids[q == k], want[0] + g * 1500) and np.array_equal(d[q == k], want[1])
        answers.append((q, ids, d))
    assert all(np.array_equal(a, b) for a, b in zip(*answers)) and len(answers[0][0]) > 100
    with pytest.raises(ValueError, match="equal groups"):
        MultiIndex(codes[:100], groups=3)


def test_chunk_radii_are_the_tightest_exact_ones():
    # exact: chunk distances summing to the radius cannot all exceed their chunk radius (sum of r_c + 1 > r);
    # tight: the sum is exactly r + 1, so no chunk probes a bit more than the pigeonhole needs
    from pipeline.dedup.mih import chunk_radii
    for chunks in range(1, 17):
        for radius in range(0, 40):
            rc = chunk_radii(chunks, radius)
            assert sum(r + 1 for r in rc) == radius + 1 and max(rc) - min(rc) <= 1


def test_compiled_query_returns_every_hit_of_a_crowded_bucket():
    # 5,000 identical codes: more hits than the first output buffer holds; each reported once
    codes = np.full((5000, 1), 0x0F0F_0F0F_0F0F_0F0F, np.uint64)
    codes[::7] ^= np.uint64(0b1011)
    q, ids, d = MultiIndex(codes).query_many(codes[[1, 0]], 3)  # an unchanged code, a changed one
    assert np.array_equal(ids[q == 0], np.arange(5000)) and np.array_equal(ids[q == 1], np.arange(5000))
    assert (d[q == 0] == 0).sum() == 5000 - len(codes[::7]) and (d[q == 1] == 0).sum() == len(codes[::7])
    assert set(d.tolist()) == {0, 3}


def test_pairs_within_reports_each_pair_once_across_chunks():
    # identical codes agree in every chunk: the join must still report each pair exactly once
    codes = np.array([[7], [7], [7], [2**63 + 7], [123456789]], np.uint64)
    i, j, d = MultiIndex(codes).pairs_within(1, 4)
    assert list(zip(i.tolist(), j.tolist(), d.tolist())) == [(0, 1, 0), (0, 2, 0), (0, 3, 1), (1, 2, 0),
                                                             (1, 3, 1), (2, 3, 1)]
    assert len(MultiIndex(codes[:1]).pairs_within(5)[0]) == 0


def test_join_layout_follows_the_cost_model():
    # 1M 64-bit codes: radius 10 is cheapest with 4 chunks of 16 bits (measured 7 s, against 20 s with 3
    # chunks of 21-22 bits and 36 s with 5 of 12-13 bits), radius 8 with 3 chunks (3 s against 7 s)
    from pipeline.dedup.mih import best_join_layout, join_cost
    assert best_join_layout(1_000_000, 1, 10) == 4
    assert best_join_layout(1_000_000, 1, 8) == 3
    assert join_cost(1_000_000, 1, 10, 2) == float("inf")  # 32-bit chunks: bucket table too large


def test_mih_empty_and_tiny():
    idx = MultiIndex(np.zeros((0, 1), np.uint64))
    assert len(idx.query(np.zeros(1, np.uint64), 5)[0]) == 0
    idx = MultiIndex(np.array([[5]], np.uint64))
    assert idx.query(np.array([4], np.uint64), 1)[0].tolist() == [0]


# ---------------------------------------------------------------------------------------- workspace
def entry_flags(ws: Workspace, entry_id: str, cfg: DedupConfig) -> list:
    """An entry's dedup flags the way the runner makes them: the writer queries its photos not yet matched,
    the facts are read, the flags computed (pure) and the result stored."""
    query_new(ws, [p.sha256 for p in ws.entry_photos(entry_id) if p.sha256], cfg)
    result = dedup_result(gather(ws, entry_id, cfg), cfg)
    store_result(ws, result, cfg)
    return list(result.flags)


def put_entry(ws: Workspace, entry_id: str, batch: str, photos: list[tuple[str, str, bytes]],
              with_pdq: bool = False) -> None:
    """Record an entry and its photos the way the runner does, hashing and indexing each photo."""
    refs = tuple(PhotoRef(entry_id, role, Path("/batch") / entry_id / rel, rel) for rel, role, _ in photos)
    run_id = queries.first_run_of_batch(ws, batch) \
        or ws.start_run(batch, "{}", "test")  # one round per batch name
    ws.put_submission(Submission(entry_id, photos=refs), batch)
    for rel, _, data in photos:
        sha = hashlib.sha256(data).hexdigest()
        ws.put_photo(PhotoMeta(sha256=sha, size_bytes=len(data)), entry_id, rel)
        ws.set_entry_photo(entry_id, rel, sha, None, run_id)
        dindex.add(ws, hashes_of(data, with_pdq))


def test_index_persists_across_reopen(tmp_path):
    data = jpeg(scene(11)[0])
    with Workspace(tmp_path / "ws") as ws:
        put_entry(ws, "E1", "b1", [("before/1.jpg", "before", data)])
        h = hashes_of(data)
    with Workspace(tmp_path / "ws") as ws:
        assert dindex.count(ws) == 1
        assert dindex.get(ws, h.sha256) == h
        idx = dindex.load_index(ws)
        assert idx.shas == [h.sha256] and int(idx.phash[0]) == h.phash
        assert np.array_equal(idx.thumb(h.sha256), h.thumb_array())
        # re-adding the plain PhotoHashes of a cached result keeps the crop windows and the signature
        dindex.add(ws, PhotoHashes.from_dict(h.to_dict()))
        assert dindex.get(ws, h.sha256) == h


@pytest.mark.parametrize("use_pdq", [False, True])
def test_match_kinds(tmp_path, use_pdq):
    cfg = DedupConfig(use_pdq=use_pdq)
    im, _ = scene(21)
    other, _ = scene(22)
    variants = {
        "orig": jpeg(im, 92),
        "reencoded": jpeg(im.resize((480, 360), Image.BICUBIC), 40),
        "mirrored": jpeg(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        "rotated": jpeg(im.transpose(Image.Transpose.ROTATE_90)),
        "cropped": jpeg(crop(im, 0.08, 0.08, 0.2, 0.7)),
        "unrelated": jpeg(other),
    }
    with Workspace(tmp_path / "ws") as ws:
        put_entry(ws, "E1", "b1", [(f"{k}.jpg", "before", v) for k, v in variants.items()], use_pdq)
        sha = {k: hashlib.sha256(v).hexdigest() for k, v in variants.items()}
        assert (dindex.get(ws, sha["orig"]).pdq is not None) == use_pdq
        from pipeline.dedup.match import candidates
        hits = candidates(dindex.load_index(ws), dindex.get(ws, sha["orig"]), cfg)
        assert any(c.hash_name == "pdq" for c in hits) == use_pdq  # PDQ is searched only when on
        matches = match_photos(ws, [sha["orig"]], cfg)
        kinds = {next(k for k, s in sha.items() if s == m.other_sha256): m.kind for m in matches}
        assert kinds == {"reencoded": "same_image", "mirrored": "mirrored_rotated", "rotated": "mirrored_rotated",
                         "cropped": "cropped"}
        assert all(m.first_seen == "this" for m in matches)  # orig was put first
        everything = match_photos(ws, list(sha.values()), cfg)
        groups = group_matches(everything)
        assert len(groups) == 1 and set(groups[0].members) == set(sha.values()) - {sha["unrelated"]}


def test_duplicate_flags_within_one_batch_and_across_batches(tmp_path):
    a, _ = scene(31)
    b, _ = scene(32)
    c, _ = scene(33)
    with Workspace(tmp_path / "ws") as ws:
        # batch 1: an honest entry
        put_entry(ws, "E1", "round1", [("before/1.jpg", "before", jpeg(a)), ("after/1.jpg", "after", jpeg(b))])
        # batch 2: E2 reuses E1's before photo (re-encoded, smaller); E3 and E4 share one photo, byte-identical
        cdata = jpeg(c)
        put_entry(ws, "E2", "round2", [("before/x.jpg", "before", jpeg(a.resize((640, 480)), 60)),
                                        ("after/y.jpg", "after", jpeg(scene(34)[0]))])
        put_entry(ws, "E3", "round2", [("before/p.jpg", "before", cdata), ("after/q.jpg", "after", jpeg(scene(35)[0]))])
        put_entry(ws, "E4", "round2", [("before/r.jpg", "before", jpeg(scene(36)[0])), ("after/s.jpg", "after", cdata)])
        cfg = DedupConfig()
        f2 = entry_flags(ws, "E2", cfg)
        assert [f.code for f in f2] == [DUPLICATE_PHOTO]
        assert "E1" in f2[0].message and "before/1.jpg" in f2[0].message
        assert "E1 had it first (an earlier round)" in f2[0].message
        assert f2[0].photos == ("before/x.jpg",) and f2[0].severity == "high" and f2[0].message_vi
        # same round, no capture or submission times: no order, both need review
        f3, f4 = entry_flags(ws, "E3", cfg), entry_flags(ws, "E4", cfg)
        assert [f.code for f in f3] == [DUPLICATE_PHOTO] and "no order can be shown" in f3[0].message
        assert [f.code for f in f4] == [DUPLICATE_PHOTO] and "no order can be shown" in f4[0].message
        assert "an exact copy" in f4[0].message and f3[0].params["other_first"] is None
        # the earlier entry, re-checked, keeps its evidence: an info flag naming the later entry
        f1 = entry_flags(ws, "E1", cfg)
        assert [(f.code, f.severity, f.params["later_entry"]) for f in f1] == [(PHOTO_COPIED_BY_LATER, "info", "E2")]
        assert "Entry E2 later used its before photo before/x.jpg" in f1[0].message
        stored = stored_result(ws, "E2")
        assert stored is not None and stored.flags == tuple(f2) and stored.matches


def test_gather_reads_only_and_the_flags_come_once_the_writer_queried(tmp_path):
    """gather (the plan step) never writes: an entry whose photos were not queried yet has no matches and
    nothing is queried on its behalf; once the writer queried them (query_new), the flags follow."""
    from pipeline.store import matches

    a, _ = scene(37)
    with Workspace(tmp_path / "ws") as ws:
        put_entry(ws, "E1", "round1", [("before/1.jpg", "before", jpeg(a)), ("after/1.jpg", "after", jpeg(scene(38)[0]))])
        put_entry(ws, "E2", "round2", [("before/x.jpg", "before", jpeg(a.resize((640, 480)), 60)),
                                        ("after/y.jpg", "after", jpeg(scene(39)[0]))])
        cfg = DedupConfig()
        facts = gather(ws, "E2", cfg)
        assert facts.matches == () and matches.queried_count(ws) == 0
        assert dedup_result(facts, cfg).flags == ()
        assert [f.code for f in entry_flags(ws, "E2", cfg)] == [DUPLICATE_PHOTO]
        assert matches.queried_count(ws) == 2  # E2's two photos, by the writer


def test_true_before_after_pair_is_not_unchanged(tmp_path):
    """One place photographed before and after a clean-up: the camera moved a step, objects removed."""
    bg = background(41)
    _, objs = scene(41)
    before = draw(bg, objs)
    after_full = draw(bg, objs[:9])  # five objects (the "litter") removed
    after = crop(after_full.rotate(1.0, resample=Image.BICUBIC), 0.06, 0.05, 0.8, 0.3).resize(before.size)
    with Workspace(tmp_path / "ws") as ws:
        put_entry(ws, "E1", "b", [("before/1.jpg", "before", jpeg(before)), ("after/1.jpg", "after", jpeg(after))])
        assert entry_flags(ws, "E1", DedupConfig()) == []
        # the same after photo re-encoded as the after photo of another entry's before: fine for E1, but an
        # entry whose after photo is its before photo re-encoded is UNCHANGED_AFTER
        put_entry(ws, "E2", "b", [("before/1.jpg", "before", jpeg(scene(42)[0], 95)),
                                   ("after/1.jpg", "after", jpeg(scene(42)[0].resize((800, 600)), 50))])
        f = entry_flags(ws, "E2", DedupConfig())
        assert [x.code for x in f] == [UNCHANGED_AFTER]
        assert f[0].photos == ("before/1.jpg", "after/1.jpg") and f[0].message_vi


def test_byte_identical_before_and_after_is_unchanged(tmp_path):
    data = jpeg(scene(51)[0])
    with Workspace(tmp_path / "ws") as ws:
        put_entry(ws, "E1", "b", [("before/1.jpg", "before", data), ("after/1.jpg", "after", data)])
        f = entry_flags(ws, "E1", DedupConfig())
        assert [x.code for x in f] == [UNCHANGED_AFTER] and "an exact copy" in f[0].message


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_json(tmp_path, capsys):
    from pipeline.cli import main

    im, _ = scene(61)
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    (d / "a.jpg").write_bytes(jpeg(im))
    (d / "sub" / "a_copy.jpg").write_bytes(jpeg(im))  # same bytes
    (d / "b.jpg").write_bytes(jpeg(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 70))
    (d / "c.jpg").write_bytes(jpeg(scene(62)[0]))
    (d / "broken.jpg").write_bytes(b"not a photo")
    assert main(["dedup", str(d), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["photos"] == 3 and [p["code"] for p in out["problems"]] == ["PHOTO_NOT_IMAGE"]
    assert len(out["groups"]) == 1
    kinds = sorted(m["kind"] for m in out["groups"][0]["matches"])
    assert kinds == ["exact", "mirrored_rotated"]
    paths = [p for m in out["groups"][0]["members"] for p in m["paths"]]
    assert not any(p.endswith("c.jpg") for p in paths)

    # against a workspace (read only): the mirrored photo matches a workspace photo, nothing is added
    with Workspace(tmp_path / "ws") as ws:
        put_entry(ws, "E9", "b", [("before/1.jpg", "before", jpeg(im, 80))])
    assert main(["dedup", str(d / "b.jpg"), "--workspace", str(tmp_path / "ws"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["groups"] and "workspace:E9/before/1.jpg" in out["groups"][0]["matches"][0]["other_paths"]
    with Workspace(tmp_path / "ws") as ws:
        assert dindex.count(ws) == 1
    assert main(["dedup", str(d / "b.jpg")]) == 0 and "0 groups" in capsys.readouterr().out
    assert main(["dedup", str(tmp_path / "missing")]) == 2


def test_fixed_camera_with_one_thing_moved_is_not_a_copy(tmp_path):
    """Two frames of a fixed camera: hashes agree, but the pixel check sees the moved object."""
    bg = background(71)
    _, objs = scene(71, objects=6)
    car = ("rectangle", (400, 420, 520, 490), (200, 30, 30))
    frame1 = draw(bg, objs + [car])
    frame2 = draw(bg, objs + [("rectangle", (560, 420, 680, 490), (200, 30, 30))])
    d1, d2 = jpeg(frame1), jpeg(frame2)
    h1, h2 = hashes_of(d1), hashes_of(d2)
    assert hamming(h1.phash, h2.phash) <= DedupConfig().phash_threshold  # the hashes alone would match
    copy = jpeg(frame1.resize((700, 525)), 45)
    with Workspace(tmp_path / "ws") as ws:
        put_entry(ws, "E1", "b", [("before/1.jpg", "before", d1), ("after/1.jpg", "after", d2),
                                   ("after/2.jpg", "after", copy)])
        found = {m.other_sha256: m.kind for m in match_photos(ws, [h1.sha256], DedupConfig())}
        # the copy is a copy; the second frame is the same spot moments later, its own kind (not a copy)
        assert found == {hashlib.sha256(copy).hexdigest(): "same_image", h2.sha256: "same_spot"}
        assert found == {m.other_sha256: m.kind
                         for m in match_photos(ws, [h1.sha256], DedupConfig(match_reuse=False))} | {h2.sha256: "same_spot"}
        flags = entry_flags(ws, "E1", DedupConfig())
        assert [(f.code, f.photos) for f in flags] == [(UNCHANGED_AFTER, ("before/1.jpg", "after/2.jpg"))]


# ------------------------------------------------------------------------------------- pixel check
def _reference_difference_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The pixel check's definition written out plainly (histogram matching both ways, by sorting)."""
    def matched(x, y):
        x, y = x.astype(np.float32).reshape(-1), y.astype(np.float32).reshape(-1)
        out = np.empty_like(y)
        out[np.argsort(x, kind="stable")] = np.sort(y)
        s = y.std() + 1.0
        return out / s, y / s
    x, y = matched(a, b)
    u, v = matched(b, a)
    return np.maximum(np.abs(x - y), np.abs(u - v)).reshape(a.shape)


def test_difference_map_equals_its_plain_definition():
    from pipeline.dedup.pixel_check import _difference_map_ranked, _Ranked, difference_map
    rng = np.random.default_rng(5)
    for _ in range(20):
        a = rng.integers(0, 256, (32, 32)).astype(np.uint8)  # ties: 1024 pixels over 256 levels
        b = np.clip(a * rng.uniform(0.5, 1.5) + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
        want = _reference_difference_map(a, b)
        assert np.array_equal(difference_map(a, b), want)
        # the crop search ranks uint8 windows by radix sort: same stable order, same map
        assert np.array_equal(_difference_map_ranked(_Ranked(a), _Ranked(b.astype(np.float32))), want)


def test_crop_search_at_the_signature_edge_does_not_raise():
    # a window flush with the left/top edge: the search probes edges a hair outside (tolerated up to
    # 0.01 px), which Pillow's resize refuses; they must be clamped, not crash the dedup pass
    from pipeline.dedup.pixel_check import crop_difference
    big = np.asarray(background(3, (64, 64)).convert("L"))
    small = np.asarray(Image.fromarray(big).resize((64, 64), Image.Resampling.BILINEAR, box=(0, 0, 57.6, 57.6)))
    diff, box = crop_difference(big, small, (-0.0001, -0.0001, 0.9, 0.9))
    assert diff < 0.5 and abs(box[0]) < 0.02 and abs(box[2] - 0.9) < 0.03


# ------------------------------------------------------------------------------------- stored matches
def _store_batches():
    im, _ = scene(31)
    return [("b1", {"E1": [("orig.jpg", "before", jpeg(im))],
                    "E2": [("mirror.jpg", "before", jpeg(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))],
                    "E3": [("other.jpg", "before", jpeg(scene(32)[0]))]}),
            ("b2", {"E4": [("crop.jpg", "after", jpeg(crop(im, 0.07, 0.06, 0.3, 0.6)))]})]


def _kinds(ws, entry_id, cfg=DedupConfig()):
    from pipeline.dedup.query import stored_matches
    shas = [p.sha256 for p in ws.entry_photos(entry_id)]
    ms, _ = stored_matches(ws, shas, cfg)
    names = {p.sha256: f'{e}/{p.rel_path}' for e in ws.entry_ids() for p in ws.entry_photos(e)}
    return sorted((names[m.photo_sha256], names[m.other_sha256], m.kind, m.first_seen) for m in ms)


def test_each_photo_is_queried_once_and_later_photos_find_earlier_ones(tmp_path):
    from pipeline.dedup.match import match_index
    from pipeline.dedup.query import query_new, unqueried
    cfg = DedupConfig()
    with Workspace(tmp_path / "ws") as ws:
        (b1, round1), (b2, round2) = _store_batches()
        for e, photos in round1.items():
            put_entry(ws, e, b1, photos)
        shas = [p.sha256 for e in round1 for p in ws.entry_photos(e)]
        assert query_new(ws, shas, cfg) == 3 and query_new(ws, shas, cfg) == 0 and unqueried(ws, shas, cfg) == []
        assert _kinds(ws, "E1") == [("E2/mirror.jpg", "E1/orig.jpg", "mirrored_rotated", "other")]
        # the same answer as matching the entry's photo live
        live, _ = match_index(dindex.load_index(ws), [p.sha256 for p in ws.entry_photos("E2")], cfg)
        assert [(m.kind, m.first_seen) for m in live] == [("mirrored_rotated", "other")]
        # a later round: only its new photo is queried, and the earlier entry sees the new match too
        for e, photos in round2.items():
            put_entry(ws, e, b2, photos)
        new = [p.sha256 for p in ws.entry_photos("E4")]
        assert unqueried(ws, shas + new, cfg) == new
        assert query_new(ws, shas + new, cfg) == 1
        assert ("E4/crop.jpg", "E1/orig.jpg", "cropped", "other") in _kinds(ws, "E1")
        assert _kinds(ws, "E3") == []
        # another matching configuration is another key: everything is queried again under it
        assert len(unqueried(ws, shas + new, DedupConfig(phash_threshold=8))) == 4


def test_stored_matches_do_not_depend_on_query_order(tmp_path):
    from pipeline.dedup.query import query_new
    results = []
    for name, reverse in (("a", False), ("b", True)):
        with Workspace(tmp_path / name) as ws:
            for batch, entries in _store_batches():
                for e, photos in entries.items():
                    put_entry(ws, e, batch, photos)
            shas = [p.sha256 for e in ws.entry_ids() for p in ws.entry_photos(e)]
            for s in (shas[::-1] if reverse else shas):  # one photo at a time, in opposite orders
                query_new(ws, [s], DedupConfig())
            results.append({e: _kinds(ws, e) for e in ws.entry_ids()})
    assert results[0] == results[1]
    assert results[0]["E4"] and results[0]["E2"]  # the copies were found



# ------------------------------------------------------------------ reused the way cheaters reuse (issue 13)
def phone_screenshot(im: Image.Image, dark: bool = False, margin: int = 0) -> Image.Image:
    """``im`` as a post in an app on a 1080x2340 phone screen: status bar, app bar, the photo (full width or
    on a card with ``margin``), icons, caption lines, navigation bar."""
    bg, fg = ((0, 0, 0), (235, 235, 235)) if dark else ((255, 255, 255), (20, 20, 20))
    canvas = Image.new("RGB", (1080, 2340), bg)
    d = ImageDraw.Draw(canvas)
    d.text((40, 18), "10:24      4G 87%", fill=fg)
    d.rectangle((0, 70, 1080, 200), fill=(46, 125, 50))
    d.text((40, 120), "Clean-up contest", fill=(255, 255, 255))
    w = 1080 - 2 * margin
    h = round(im.height * w / im.width)
    canvas.paste(im.resize((w, h), Image.LANCZOS), (margin, 320))
    y = 320 + h + 30
    for i in range(3):
        d.ellipse((60 + 110 * i, y, 120 + 110 * i, y + 60), outline=fg, width=5)
    for line in range(2):
        d.text((40, y + 100 + 56 * line), "Chu nhat xanh 2024 - team 7 - don rac", fill=fg)
    d.rectangle((0, 2240, 1080, 2340), fill=(248, 248, 248) if not dark else (20, 20, 20))
    return canvas


def straightened(im: Image.Image, degrees: float) -> Image.Image:
    from pipeline.dedup.hashing import zoom_to_hide_corners

    w, h = im.size
    k = zoom_to_hide_corners(w, h, degrees)
    box = ((w - w * k) / 2, (h - h * k) / 2, (w + w * k) / 2, (h + h * k) / 2)
    return im.rotate(degrees, resample=Image.BICUBIC).resize((w, h), Image.BICUBIC, box=box)


def caption_band(im: Image.Image, fraction: float) -> Image.Image:
    out = im.convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    top = round(im.height * (1 - fraction))
    d.rectangle((0, top, im.width, im.height), fill=(0, 0, 0, 200))
    d.text((30, top + 20), "Before: so much trash here! Don rac bai bien", fill=(255, 255, 255, 255),
           font=_font(max(12, round(im.height * fraction / 3))))
    return Image.alpha_composite(out, layer).convert("RGB")


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):
        return ImageFont.load_default()


def test_photo_box_finds_the_photo_in_a_screenshot_and_nothing_in_a_photo():
    from pipeline.dedup.frame import photo_box

    im, _ = scene(81)
    for shot, margin in ((phone_screenshot(im), 0), (phone_screenshot(im, dark=True), 0),
                         (phone_screenshot(im, margin=48), 48)):
        box = photo_box(np.asarray(hash_base(np.asarray(shot))))
        assert box is not None
        w = 1080 - 2 * margin
        truth = (margin / 1080, 320 / 2340, (margin + w) / 1080, (320 + round(720 * w / 960)) / 2340)
        assert np.allclose(box, truth, atol=0.012), (box, truth)
    assert photo_box(np.asarray(hash_base(np.asarray(im)))) is None


def text_overlay(im: Image.Image, size_fraction: float) -> Image.Image:
    out = im.copy()
    size = round(im.height * size_fraction)
    ImageDraw.Draw(out).text((40, round(im.height * 0.3)), "Chu nhat xanh 2024 - team 7", fill=(255, 255, 255),
                             font=_font(size), stroke_width=max(1, size // 12), stroke_fill=(0, 0, 0))
    return out


def large_text(im: Image.Image) -> Image.Image:
    """Lettering a seventh of the height tall, white with a black outline, running off the right edge: its
    corners are the strongest of the picture and its letters touch."""
    out = im.copy()
    size = round(im.height / 7)
    ImageDraw.Draw(out).text((round(im.width * 0.05), round(im.height * 0.45)), "Nhom tinh nguyen Q.3 - 12 bao rac",
                             fill=(255, 255, 255), font=_font(size), stroke_width=max(1, size // 12),
                             stroke_fill=(0, 0, 0))
    return out


@pytest.mark.parametrize("kind", ["screenshot", "screenshot_dark_card", "straightened", "captioned", "text",
                                  "text_large", "text_large_plain_ground"])
def test_reused_copies_are_found_and_flagged(tmp_path, kind):
    """Each way a cheater reuses another entry's photo is found, named, and flagged as DUPLICATE_PHOTO."""
    im = background(91) if kind == "text_large_plain_ground" else scene(91)[0]
    copy = {"screenshot": lambda: phone_screenshot(im),
            "screenshot_dark_card": lambda: phone_screenshot(im, dark=True, margin=40),
            "straightened": lambda: straightened(im, -3.2),
            "captioned": lambda: caption_band(im, 0.2),
            "text": lambda: text_overlay(im, 1 / 11),
            "text_large": lambda: large_text(im), "text_large_plain_ground": lambda: large_text(im)}[kind]()
    expected = "screenshot" if kind.startswith("screenshot") else "captioned" if kind.startswith("text") else kind
    orig, reused = jpeg(im, 92), jpeg(copy, 85)
    with Workspace(tmp_path / "ws") as ws:
        put_entry(ws, "E1", "r1", [("before/1.jpg", "before", orig), ("after/1.jpg", "after", jpeg(scene(92)[0]))])
        put_entry(ws, "E2", "r2", [("before/1.jpg", "before", reused), ("after/1.jpg", "after", jpeg(scene(93)[0]))])
        sha_o, sha_r = hashlib.sha256(orig).hexdigest(), hashlib.sha256(reused).hexdigest()
        # today's matcher misses it; the reuse candidates and the confirmation find it, from either end
        assert not match_photos(ws, [sha_r], DedupConfig(match_reuse=False))
        assert {m.other_sha256: m.kind for m in match_photos(ws, [sha_r], DedupConfig())} == {sha_o: expected}
        assert {m.other_sha256: m.kind for m in match_photos(ws, [sha_o], DedupConfig())} == {sha_r: expected}
        f = entry_flags(ws, "E2", DedupConfig())
        assert [x.code for x in f] == [DUPLICATE_PHOTO] and "E1" in f[0].message and f[0].message_vi


def test_same_spot_moments_apart_is_its_own_medium_flag(tmp_path):
    """Two frames of a fixed camera with something moved, in two entries: SAME_SPOT_PHOTO naming both."""
    from pipeline.dedup.flags import SAME_SPOT_PHOTO
    from pipeline.score.flag_codes import FLAGS

    bg = background(101)
    _, objs = scene(101, objects=6)
    frame1 = draw(bg, objs + [("rectangle", (400, 420, 520, 490), (200, 30, 30))])
    frame2 = draw(bg, objs + [("rectangle", (560, 420, 680, 490), (200, 30, 30))])
    with Workspace(tmp_path / "ws") as ws:
        put_entry(ws, "E1", "r", [("before/1.jpg", "before", jpeg(frame1)), ("after/1.jpg", "after", jpeg(scene(102)[0]))])
        put_entry(ws, "E2", "r", [("before/1.jpg", "before", jpeg(frame2)), ("after/1.jpg", "after", jpeg(scene(103)[0]))])
        f = entry_flags(ws, "E2", DedupConfig())
        assert [x.code for x in f] == [SAME_SPOT_PHOTO] and f[0].severity == FLAGS[SAME_SPOT_PHOTO].severity == "medium"
        assert "E1" in f[0].message and "E2" in f[0].message and f[0].message_vi
        assert group_matches([m for m in stored_result(ws, "E2").matches]) == []  # not a copy group


def test_cli_lists_same_spot_pairs_on_their_own(tmp_path, capsys):
    """``dedup`` lists two frames of a fixed camera as the same spot (JSON and text), in no group of copies,
    next to a real copy group."""
    from pipeline.cli import main

    bg = background(101)
    _, objs = scene(101, objects=6)
    d = tmp_path / "photos"
    d.mkdir()
    (d / "frame1.jpg").write_bytes(jpeg(draw(bg, objs + [("rectangle", (400, 420, 520, 490), (200, 30, 30))])))
    (d / "frame2.jpg").write_bytes(jpeg(draw(bg, objs + [("rectangle", (560, 420, 680, 490), (200, 30, 30))])))
    other, _ = scene(104)
    (d / "x.jpg").write_bytes(jpeg(other))
    (d / "x_mirror.jpg").write_bytes(jpeg(other.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 75))
    assert main(["dedup", str(d), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["groups"]) == 1
    assert sorted(Path(p).name for m in out["groups"][0]["members"] for p in m["paths"]) == ["x.jpg", "x_mirror.jpg"]
    assert [m["kind"] for m in out["same_spot"]] == ["same_spot"]
    pair = sorted(Path(p).name for m in out["same_spot"] for p in m["photo_paths"] + m["other_paths"])
    assert pair == ["frame1.jpg", "frame2.jpg"]
    assert main(["dedup", str(d)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("4 files checked, 1 group of copies, 1 same-spot pair")
    tail = text.split("the same spot at another moment")[1]
    assert "frame1.jpg" in tail and "frame2.jpg" in tail and "x.jpg" not in tail


def _moving_camera_frames() -> tuple[Image.Image, Image.Image, Image.Image]:
    """A street scene, the same scene with one red car moved 20 px (a tiny edit), and that edit seen by a
    camera that moved a little (a slight keystone: the parallax of a moving camera)."""
    import cv2

    bg = background(121)
    _, objs = scene(121, objects=10)
    first = draw(bg, objs + [("rectangle", (420, 430, 470, 460), (200, 30, 30))])
    moved = draw(bg, objs + [("rectangle", (440, 430, 490, 460), (200, 30, 30))])
    w, h = moved.size
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    keystone = cv2.getPerspectiveTransform(corners, corners + np.float32([[4, 0], [-4, 0], [0, 0], [0, 0]]))
    frame = Image.fromarray(cv2.warpPerspective(np.asarray(moved), keystone, (w, h), borderMode=cv2.BORDER_REFLECT))
    return first, moved, frame


def test_a_moving_cameras_frames_with_little_changed_are_the_same_spot_not_copies():
    """Two frames of a slowly moving camera: one car moved by a few pixels (~0.15 % of the view changed) and
    a slight change of perspective (the keypoints disagree with any similarity by ~0.5 px). The same car
    move without the parallax is a copy with a tiny edit; with it, the same spot. The parallax rule is what
    tells them apart (off, both are copies)."""
    from pipeline.dedup.confirm import COPY, SAME_SPOT, ConfirmConfig, confirm, view_features
    from pipeline.dedup.hashing import decode_view

    def features(im):
        return view_features(decode_view(hashes_of(jpeg(im)).view))

    first, moved, second = _moving_camera_frames()
    a, edited, frame = features(first), features(moved), features(second)
    c = confirm(a, frame)
    assert c.verdict == SAME_SPOT and c.residual >= 0.3 and 0.0012 < c.changed <= 0.004, c
    assert confirm(a, edited).verdict == COPY
    off = ConfirmConfig(parallax_px=99.0)
    assert confirm(a, frame, off).verdict == COPY


def test_signature_copies_beyond_the_confirmation_cap_are_confirmed_too(monkeypatch):
    """``max_confirm`` caps the confirmations of the nearest candidates; a photo beyond the cap that the
    signatures would call a copy is still looked at with the features, which call it the same spot. (The
    signature check is made to accept every hit here: on real frames of one street its crop search does.)"""
    from pipeline.dedup import match as dmatch

    first, _, frame = _moving_camera_frames()
    hs = [hashes_of(jpeg(first)), hashes_of(jpeg(first, 60)), hashes_of(jpeg(frame))]  # the copy is nearer
    index = dindex.HashIndex.from_hashes(hs)
    monkeypatch.setattr(dmatch, "verify_candidate", lambda *a: 0.0)
    cfg = DedupConfig(max_confirm=1)
    assert [c.other for c in dmatch.candidates(index, hs[0], cfg)][0] == 1
    kinds = {m.other_sha256: m.kind for m in dmatch.match_one(index, hs[0], cfg)}
    assert kinds == {hs[1].sha256: "same_image", hs[2].sha256: "same_spot"}
    assert {m.kind for m in dmatch.match_one(index, hs[0], DedupConfig(max_confirm=1, match_reuse=False))} == \
        {"same_image"}  # without the features, both are signature copies


def test_a_poor_same_spot_fit_does_not_overrule_a_signature_copy(monkeypatch):
    """The features overrule a signature copy with ``same_spot`` only on a solid fit (half the matches or
    more are inliers); a wrong alignment (a quarter, as on a repetitive texture) leaves the copy a copy."""
    from pipeline.dedup import match as dmatch
    from pipeline.dedup.confirm import SAME_SPOT, Confirmation

    im, _ = scene(131)
    hs = [hashes_of(jpeg(im)), hashes_of(jpeg(im.resize((480, 360)), 70))]
    index = dindex.HashIndex.from_hashes(hs)
    cands = dmatch.candidates(index, hs[0], DedupConfig())
    for inliers, kind in ((40, "same_image"), (120, "same_spot")):
        conf = Confirmation(SAME_SPOT, inliers, 160, changed=0.3)
        monkeypatch.setattr(dmatch, "confirm_others", lambda *a, conf=conf: {1: (cands[0], conf)})
        assert [m.kind for m in dmatch.match_one(index, hs[0], DedupConfig())] == [kind]


def test_before_after_with_litter_removed_is_never_a_copy(tmp_path):
    """One clean-up: the same framing, the litter (five objects, one of them long and flat) removed. With
    every reuse candidate and the confirmation on, it is the same spot, never a copy nor UNCHANGED_AFTER,
    and within one entry that raises nothing."""
    bg = background(111)
    _, objs = scene(111, objects=8)
    litter = [("rectangle", (300, 600, 520, 630), (240, 240, 240)), ("ellipse", (100, 500, 160, 540), (30, 200, 40)),
              ("rectangle", (700, 100, 760, 150), (250, 250, 250)), ("ellipse", (500, 300, 540, 330), (10, 10, 10)),
              ("rectangle", (820, 620, 900, 640), (220, 30, 30))]
    before, after = draw(bg, objs + litter), draw(bg, objs)
    with Workspace(tmp_path / "ws") as ws:
        put_entry(ws, "E1", "b", [("before/1.jpg", "before", jpeg(before)), ("after/1.jpg", "after", jpeg(after, 80))])
        shas = [hashlib.sha256(jpeg(before)).hexdigest()]
        kinds = {m.kind for m in match_photos(ws, shas, DedupConfig())}
        assert kinds == {"same_spot"}  # found, and found to be the same spot, not a copy
        assert entry_flags(ws, "E1", DedupConfig()) == []
