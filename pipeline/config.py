"""All configuration, in one typed place.

A run's configuration is a :class:`Config` built from defaults, optionally overridden by a TOML file
(``--config FILE``) whose tables mirror the sections below::

    [detect]
    confidence = 0.3

    [score.weights]
    removed = 0.6

Each stage caches its results under the hash of *its own section* (``Config.section_hash``), so changing
a score weight re-scores without re-running detection. ``Config.hash`` covers every section that can change a
result (all but :data:`SERVICE_SECTIONS`: the intake API's limits) and is recorded with every score.
"""
from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .digests import short_hash


@dataclass(frozen=True)
class LoadConfig:
    """Photo decoding. Sizes in pixels, file size in bytes."""

    analysis_max_side: int = 1024  # longest side of the decoded analysis image
    draft_min_fraction: float = 0.9  # JPEG: decode at 1/2, 1/4 or 1/8 scale if still >= this * analysis size
    max_pixels: int = 100_000_000  # decompression-bomb limit on the full-size photo (width * height)
    max_file_bytes: int = 80 * 1024 * 1024  # larger files are refused unread
    thumb_max_side: int = 800  # thumbnails kept in the workspace for reports and the review app


@dataclass(frozen=True)
class DedupConfig:
    """Reused-photo matching (pipeline/dedup, calibrated in docs/dedup-calibration.md). Thresholds are
    Hamming distances in bits; ``*_difference`` are signature differences (pipeline/dedup/pixel_check.py: 99th
    percentile of the per-pixel difference of the normalised 32x32 grey signatures, in standard deviations).

    A pair is a candidate when its pHash (any of the 8 flips/rotations) is within ``phash_threshold`` or, with
    ``use_pdq``, its PDQ within ``pdq_threshold`` (both PDQ qualities >= ``pdq_min_quality``), or for crops when one photo's
    pHash is within ``crop_threshold`` of a sub-window pHash of the other; a candidate is a match only when
    the aligned signatures differ by at most ``max_difference`` (``crop_max_difference`` for crops).
    """

    phash_threshold: int = 10  # of 64
    # PDQ (256-bit, ThreatExchange's format) is off by default: on the calibration set it found no pair that
    # the 8-variant pHash, crop windows and pixel check missed (identical table with and without it), and it
    # is half the hashing time (3.7 of 7.5 ms per photo). Turn it on to compute, store and match it.
    use_pdq: bool = False
    pdq_threshold: int = 31  # of 256
    pdq_min_quality: int = 50  # 0-100
    match_variants: bool = True  # also match the 7 flipped/rotated variants
    crop_threshold: int = 10  # of 64: pHash of one photo against the crop-window pHashes of the other
    match_crops: bool = True
    max_difference: float = 0.8  # same image / mirrored-rotated: signature difference at most this
    crop_max_difference: float = 1.0  # cropped: signature difference after aligning the window
    unchanged_max_difference: float = 0.8  # UNCHANGED_AFTER: before vs after of one entry (one removed item: >= 1.9)
    difference_percentile: float = 100.0  # statistic of the per-pixel differences (100: the largest)
    crop_difference_percentile: float = 100.0  # for crops, after alignment, one-pixel border left out
    max_candidates: int = 200  # per photo, nearest first: caps the pixel checks on degenerate photos
    # Reused photos the way cheaters reuse them (issue 13): the photo inside a screenshot, small rotations
    # (straightened), caption-free parts; every hash hit confirmed on local features (pipeline/dedup/confirm.py),
    # which also tells frames of one spot seconds apart (``same_spot``) from copies.
    match_reuse: bool = True
    reuse_threshold: int = 10  # of 64: inner photo / rotated / part pHash against the other photo's
    max_confirm: int = 20  # per photo, nearest first: other photos confirmed on local features
    copy_max_changed: float = 0.004  # confirmed copy: changed fraction of the overlap after captions and text
    same_spot_min_inliers: int = 30  # same spot: local-feature inliers of the similarity fit at least this
    # Copies that cheat harder (issue 22): region windows (deep crops, stickers and text panels) and collage
    # panels (pipeline/dedup/regions.py), every hit confirmed on local features as above, which also forgive
    # a drawn sticker or panel and even out a filter (pipeline/dedup/overlay.py); false: the matcher before
    match_regions: bool = True
    region_threshold: int = 10  # of 64: region window / panel pHash against the other photo's


@dataclass(frozen=True)
class DetectConfig:
    """Litter detection. ``model`` is a registry name under ``models/`` or a path to weights."""

    model: str = "default"
    # the runtime (pipeline/detect/backends.py): torch (weights.pt through ultralytics), onnx (ONNX Runtime) or
    # openvino; the model must carry that backend's file (its card's `files:`, `cleanup-verify models export`)
    backend: str = "torch"
    # operating threshold in [0, 1]: max F1 on the held-out split of the training folders for the
    # default model (models/litter-v8s-416b/card.yaml); change it together with the model
    confidence: float = 0.35
    # weaker detections down to this are kept as candidates for the litter-change rule (verify-3): an item
    # the detector half-sees before is judged removed or remaining by its aligned appearance after
    candidate_confidence: float = 0.1
    iou: float = 0.5  # NMS IoU
    tiles: int = 0  # > 1: also run a tiles x tiles grid of overlapping tiles per photo (pipeline/detect/tiles.py)
    tile_overlap: float = 0.2  # overlap of neighbouring tiles, fraction of a tile's side
    imgsz: int = 416  # network input side in pixels: the default model was trained at 416
    batch_size: int = 8
    device: str = "cpu"
    # torch threads per detector (0: one per CPU core, or per core of a pool worker). The boxes and scores
    # depend on it in their last bits (1 against 2 threads: 35 of 40 photos differ, by up to 1e-6), so it
    # is one fixed number, whatever the executor, to give every executor the same results byte for byte;
    # the executors parallelise across photos instead (a pool worker per core)
    torch_threads: int = 1

    def __post_init__(self) -> None:
        if self.backend not in ("torch", "onnx", "openvino"):
            raise ValueError(f"config: 'detect.backend' must be torch, onnx or openvino, got {self.backend!r}")


@dataclass(frozen=True)
class VerifyConfig:
    """Same-place check and litter change. Pixel settings are at the matching size (``max_side``)."""

    max_side: int = 640  # photos are matched at this longest side (pixels; docs/verify-bench.md)
    detector: str = "orb"  # local features: orb | sift | akaze (see scripts/bench_verify.py)
    fallback_detector: str = "sift"  # retried on pairs the first detector rejects; "" for none
    fallback_min_inliers: int = 10  # the fallback runs only on rejected pairs with this many inliers (0: all)
    features: int = 1500  # at most this many keypoints per photo
    orb_fast_threshold: int = 20  # ORB's FAST corner threshold (grey levels): higher finds corners faster
    clahe: bool = True  # contrast-limited histogram equalisation of the grey image before features
    ratio_test: float = 0.8  # Lowe's ratio: best match distance / second best below this
    ransac_px: float = 5.0  # homography reprojection threshold in matching pixels (MAGSAC++: its maximum)
    robust_method: str = "magsac"  # homography fit: magsac (cv2.USAC_MAGSAC) | ransac (cv2.RANSAC)
    min_inliers: int = 25
    min_inlier_ratio: float = 0.15
    min_overlap: float = 0.15  # fraction of the before photo that must be visible in the after photo
    max_scale_change: float = 4.0  # homographies zooming more than this (either way) are rejected
    fundamental_min_inliers: int = 60  # non-planar fallback: fundamental-matrix inliers for same place
    match_iou: float = 0.3  # IoU above which a before box and a mapped after box are the same item
    still_there_ncc: float = 0.8  # a before item with no matching after box still counts as remaining when
    #                               its patch and the aligned after patch correlate at least this much (-1..1)
    unchanged_max_shift: float = 0.01  # UNCHANGED_AFTER: corner shift / diagonal at most this
    unchanged_min_inlier_ratio: float = 0.6
    unchanged_max_changed: float = 0.0005  # fraction of pixels whose grey level changed by > 24


@dataclass(frozen=True)
class ScoreWeights:
    removed: float = 0.55  # fraction of the litter removed
    amount: float = 0.20  # how much litter there was before
    evidence: float = 0.25  # quality of the evidence (same place, photo quality, metadata)


@dataclass(frozen=True)
class ScoreConfig:
    """Score and flags. Score = 100 * removed * (w_removed + w_amount * amount + w_evidence * evidence)
    / (sum of weights): nothing removed earns nothing (see pipeline/score/card.py)."""

    weights: ScoreWeights = field(default_factory=ScoreWeights)
    amount_saturation: int = 10  # litter items before at which the amount component reaches 1
    removed_area_weight: float = 0.5  # share of the litter-area reduction in the removed component
    evidence_full_inliers: int = 150  # matching points at which the same-place evidence reaches 1
    evidence_no_exif: float = 0.75  # metadata evidence when no photo has an EXIF/manifest time
    exif_max_gap_hours: float = 72.0  # EXIF_TIME_GAP above this
    exif_order_tolerance_s: float = 60.0  # EXIF_TIME_ORDER when an after photo is older by more
    gps_max_distance_m: float = 200.0  # GPS_MISMATCH above this
    blur_min_variance: float = 60.0  # LOW_QUALITY: variance of the Laplacian below this
    dark_max_mean: float = 40.0  # LOW_QUALITY: mean brightness (0-255) below this
    litter_remains_min_fraction: float = 0.2  # LITTER_REMAINS: litter after / litter before at least
    kg_per_item_max: float = 25.0  # CLAIM_IMPLAUSIBLE when reported kg per visible item exceeds this
    participants_per_item_max: float = 20.0


@dataclass(frozen=True)
class IntakeConfig:
    """The intake API of ``cleanup-verify serve`` (pipeline/api): request limits and the queue's worker.
    Sizes in bytes, times in seconds. None of it changes a result, so it is left out of :attr:`Config.hash`."""

    max_photo_bytes: int = 25 * 1024 * 1024  # one photo larger than this: 413
    max_photos_per_role: int = 10  # more before (or after) photos than this in an entry: 413
    max_entry_json_bytes: int = 64 * 1024  # the `entry` part of a post
    rate_per_minute: float = 120.0  # requests one token may make a minute, on average (429 beyond)
    rate_burst: int = 60  # requests one token may make at once before the rate applies
    batch_entries: int = 8  # the worker scores at most this many queued entries in one run
    batch_wait_s: float = 0.5  # after an arrival, the worker waits this long for more before a run
    idle_poll_s: float = 2.0  # an idle worker looks at the queue at least this often (another process may fill it)
    retry_after_error_s: float = 30.0  # a run that failed as a whole (model missing, disk full) is retried after this

    def __post_init__(self) -> None:
        for name in ("max_photo_bytes", "max_photos_per_role", "max_entry_json_bytes", "rate_burst", "batch_entries"):
            if getattr(self, name) < 1:
                raise ValueError(f"config: 'intake.{name}' must be at least 1, got {getattr(self, name)!r}")
        if self.rate_per_minute <= 0:
            raise ValueError(f"config: 'intake.rate_per_minute' must be above 0, got {self.rate_per_minute!r}")


#: sections of :class:`Config` that change no result (left out of :attr:`Config.hash`)
SERVICE_SECTIONS = ("intake",)


@dataclass(frozen=True)
class Config:
    load: LoadConfig = field(default_factory=LoadConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    intake: IntakeConfig = field(default_factory=IntakeConfig)

    # ---------------------------------------------------------------------------------------- hashing
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def hash(self) -> str:
        """sha256[:16] of the configuration of the results (canonical JSON; :data:`SERVICE_SECTIONS` left out, so
        that a server's limits do not change a score's configuration hash)."""
        return _digest({k: v for k, v in self.to_dict().items() if k not in SERVICE_SECTIONS})

    def section_hash(self, section: str) -> str:
        """sha256[:16] of one section, e.g. ``"detect"``: the cache key of that stage's results."""
        return section_digest(getattr(self, section))

    # ---------------------------------------------------------------------------------------- loading
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Config":
        return _build(cls, data, "")

    @classmethod
    def from_toml(cls, path: str | Path) -> "Config":
        """Settings from a TOML file; a syntax error or a bad setting raises ValueError naming the file."""
        with open(path, "rb") as f:
            try:
                data = tomllib.load(f)
            except tomllib.TOMLDecodeError as e:
                raise ValueError(f"{path} is not valid TOML: {e}") from None
        try:
            return cls.from_dict(data)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None


def section_digest(section: Any) -> str:
    """sha256[:16] of one configuration section (a dataclass such as :class:`DetectConfig`)."""
    return _digest(dataclasses.asdict(section))


def _digest(obj: Any) -> str:
    return short_hash(json.dumps(obj, sort_keys=True, separators=(",", ":")))


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from ``data``, refusing unknown keys and wrong types with a clear message."""
    if not isinstance(data, dict):
        raise ValueError(f"config: [{where or 'top'}] must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{where}.{key}" if where else key
        if key not in fields:
            raise ValueError(f"config: unknown setting '{name}' (known: {', '.join(sorted(fields))})")
        default = fields[key].default_factory() if fields[key].default_factory is not dataclasses.MISSING \
            else fields[key].default
        if dataclasses.is_dataclass(default):
            kwargs[key] = _build(type(default), value, name)
        else:
            kwargs[key] = _coerce(value, default, name)
    return cls(**kwargs)


def _coerce(value: Any, default: Any, name: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"config: '{name}' must be true or false, got {value!r}")
        return value
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"config: '{name}' must be an integer, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"config: '{name}' must be a number, got {value!r}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError(f"config: '{name}' must be a string, got {value!r}")
        return value
    return value
