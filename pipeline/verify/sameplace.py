"""Same-place check of a before/after photo pair: local features, ratio test, robust homography.

Features are computed once per photo (:func:`extract_features`) at ``VerifyConfig.max_side`` on the
CLAHE-equalised grey image (reduced from the already-decoded analysis image, never decoded again), then any
number of pairs are matched (:func:`match_features`); the homography is fitted with
``VerifyConfig.robust_method`` (MAGSAC++ by default). The homography
a :class:`~pipeline.types.SceneMatch` carries maps *full-size* before-photo pixels to full-size
after-photo pixels, so detections (also in full-size pixels) can be mapped directly.

A pair is the same place when the homography has at least ``min_inliers`` inliers, an inlier
ratio of at least ``min_inlier_ratio``, a plausible zoom (``max_scale_change``) and shows at least
``min_overlap`` of the before photo. Scenes with strong depth (a step to the side in a street) fit one
plane badly; for them a fundamental-matrix fallback accepts the pair when at least
``fundamental_min_inliers`` matches obey the epipolar geometry (the homography is still reported when it
is plausible, for mapping the ground plane).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..config import VerifyConfig
from ..types import LoadedPhoto, SceneMatch
from .geometry import project, visible_fraction

DETECTORS: tuple[str, ...] = ("sift", "orb", "akaze")  # akaze only where the OpenCV build has it
# Homography fit. RANSAC runs all its iterations when few matches agree (about 10 ms on 20 matches of two
# different places); MAGSAC++ stops early there and finds the same inliers on true pairs
# (docs/verify-bench.md).
ROBUST_METHODS: dict[str, int] = {"magsac": cv2.USAC_MAGSAC, "ransac": cv2.RANSAC}
_MIN_MATCHES = 8  # fewer ratio-test matches than this: no model is fitted
_MIN_SIDE = 32  # photos smaller than this (pixels, at matching size) get no features


@dataclass(frozen=True, eq=False)
class PhotoFeatures:
    """Local features of one photo at matching size.

    ``keypoints``: float32 (N, 2) x, y in matching pixels; ``descriptors``: (N, D) uint8 (ORB, AKAZE) or
    float32 (SIFT); ``scale``: matching pixels per full-size pixel; ``size``/``full_size``: (width,
    height) of the matching image and of the oriented full-size photo; ``grey``: the equalised uint8 grey
    image the features were taken from (kept for the unchanged-photo check).
    """

    sha256: str
    keypoints: np.ndarray
    descriptors: np.ndarray
    scale: float
    size: tuple[int, int]
    full_size: tuple[int, int]
    detector: str
    grey: np.ndarray

    def __len__(self) -> int:
        return len(self.keypoints)


def _make_detector(cfg: VerifyConfig, fast_threshold: int = 10):
    """The local-feature detector of ``cfg``; ``fast_threshold``: ORB's FAST threshold (the same-place check
    passes ``cfg.orb_fast_threshold``; 10 is what pipeline.dedup.confirm was calibrated with)."""
    name = cfg.detector.lower()
    if name == "sift":
        return cv2.SIFT_create(nfeatures=cfg.features)
    if name == "orb":
        return cv2.ORB_create(nfeatures=cfg.features, fastThreshold=fast_threshold)
    if name == "akaze":
        if not hasattr(cv2, "AKAZE_create"):
            raise ValueError("verify.detector akaze: this OpenCV build has no AKAZE; use sift or orb")
        return cv2.AKAZE_create(threshold=0.0005)
    raise ValueError(f"verify.detector must be one of {', '.join(DETECTORS)}, got {cfg.detector!r}")


def matching_grey(image: np.ndarray, max_side: int, clahe: bool = True) -> tuple[np.ndarray, float]:
    """Grey uint8 image at longest side <= ``max_side`` (never upscaled), and the factor applied (<= 1).

    ``image``: HxWx3 uint8 RGB or HxW uint8 grey.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else np.asarray(image, np.uint8)
    h, w = grey.shape[:2]
    f = min(1.0, max_side / max(h, w)) if max(h, w) > 0 else 1.0
    if f < 1.0:
        grey = cv2.resize(grey, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    if clahe:
        grey = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(grey)
    return grey, f


def extract_features(photo: LoadedPhoto, cfg: VerifyConfig) -> PhotoFeatures:
    """Detect and describe local features of ``photo`` once; reuse the result for every pair."""
    grey, f = matching_grey(photo.image, cfg.max_side, cfg.clahe)
    h0, w0 = photo.image.shape[:2]
    full_size = (max(1, round(w0 / photo.scale)), max(1, round(h0 / photo.scale)))
    if photo.meta.width and photo.meta.height:
        full_size = (int(photo.meta.width), int(photo.meta.height))
    detector = _make_detector(cfg, cfg.orb_fast_threshold)
    kps, desc = (), None
    if min(grey.shape[:2]) >= _MIN_SIDE:
        try:
            kps, desc = detector.detectAndCompute(grey, None)
        except cv2.error:  # degenerate image: no features, the pair is simply not matched
            kps, desc = (), None
    pts = (cv2.KeyPoint_convert(kps) if len(kps) else np.zeros((0, 2))).astype(np.float32).reshape(-1, 2)
    if desc is None:
        desc = np.zeros((0, 32), np.uint8)
    return PhotoFeatures(photo.meta.sha256, pts, desc, photo.scale * f, (grey.shape[1], grey.shape[0]),
                         full_size, cfg.detector.lower(), grey)


def _ratio_matches(fb: PhotoFeatures, fa: PhotoFeatures, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Matched keypoint coordinates (before, after) passing Lowe's ratio test, each float32 (K, 2), in the
    order of the before keypoints.

    The two nearest after descriptors of every before descriptor come from ``cv2.batchDistance`` as arrays:
    the brute-force search ``cv2.BFMatcher.knnMatch(k=2)`` runs, with the same neighbours and distances,
    without building a Python ``DMatch`` per keypoint (the same matches, a few ms less per pair).
    """
    if len(fb) < 2 or len(fa) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    floats = fb.descriptors.dtype == np.float32
    dist, nidx = cv2.batchDistance(fb.descriptors, fa.descriptors, cv2.CV_32F if floats else cv2.CV_32S,
                                   normType=cv2.NORM_L2 if floats else cv2.NORM_HAMMING, K=2)
    dist = dist.astype(np.float64)
    good = (nidx[:, 1] >= 0) & (dist[:, 0] < ratio * dist[:, 1])
    return (np.ascontiguousarray(fb.keypoints[good], np.float32).reshape(-1, 2),
            np.ascontiguousarray(fa.keypoints[nidx[good, 0]], np.float32).reshape(-1, 2))


def to_full_size(h_match: np.ndarray, scale_before: float, scale_after: float) -> np.ndarray:
    """Homography between matching images -> between full-size images (both scales: px per full px)."""
    sb = np.diag([scale_before, scale_before, 1.0])
    sa_inv = np.diag([1.0 / scale_after, 1.0 / scale_after, 1.0])
    h = sa_inv @ h_match @ sb
    return h / h[2, 2] if abs(h[2, 2]) > 1e-12 else h


def plausible(h: np.ndarray, size_from: tuple[int, int], max_scale_change: float) -> bool:
    """Whether ``h`` is a plausible camera move: finite, keeps the photo's corners in front of the camera
    and in convex order, and changes the area by at most ``max_scale_change`` squared either way."""
    if h is None or not np.all(np.isfinite(h)):
        return False
    w0, h0 = size_from
    corners = np.array([[0, 0], [w0, 0], [w0, h0], [0, h0]], np.float64)
    q, w = project(corners, h)
    if np.any(w <= 0):
        return False
    if not cv2.isContourConvex(q.astype(np.float32).reshape(-1, 1, 2)):
        return False
    area = abs(cv2.contourArea(q.astype(np.float32))) / float(w0 * h0)
    return 1.0 / max_scale_change ** 2 <= area <= max_scale_change ** 2


def _robust_flag(name: str) -> int:
    try:
        return ROBUST_METHODS[name.lower()]
    except KeyError:
        raise ValueError(f"verify.robust_method must be one of {', '.join(ROBUST_METHODS)}, got {name!r}") from None


def match_features(fb: PhotoFeatures, fa: PhotoFeatures, cfg: VerifyConfig) -> SceneMatch:
    """Same-place check of two photos' precomputed features (before ``fb``, after ``fa``)."""
    robust = cfg.robust_method.lower()
    flag = _robust_flag(robust)
    method = f"{fb.detector}+{robust}"
    src, dst = _ratio_matches(fb, fa, cfg.ratio_test)
    n = len(src)
    if n < _MIN_MATCHES:
        return SceneMatch(fb.sha256, fa.sha256, False, 0, n, 0.0, 0.0, None, method)
    h, mask = cv2.findHomography(src, dst, flag, cfg.ransac_px, maxIters=2000, confidence=0.995)
    inliers = int(mask.sum()) if mask is not None else 0
    h_full = to_full_size(h, fb.scale, fa.scale) if h is not None else None
    ok_h = h_full is not None and plausible(h_full, fb.full_size, cfg.max_scale_change)
    overlap = visible_fraction(h_full, fb.full_size, fa.full_size) if ok_h else 0.0
    same = ok_h and inliers >= cfg.min_inliers and inliers / n >= cfg.min_inlier_ratio \
        and overlap >= cfg.min_overlap
    if not same and n >= cfg.fundamental_min_inliers:
        f, fmask = cv2.findFundamentalMat(src, dst, cv2.FM_RANSAC, 1.5, 0.995)
        f_in = int(fmask.sum()) if f is not None and fmask is not None else 0
        if f_in >= cfg.fundamental_min_inliers and f_in / n >= max(cfg.min_inlier_ratio, 0.3):
            same, inliers, method = True, f_in, f"{fb.detector}+fundamental"
            if not ok_h:
                overlap = 0.0
    hom = tuple(float(v) for v in h_full.reshape(-1)) if ok_h else None
    return SceneMatch(fb.sha256, fa.sha256, bool(same), inliers, n, round(inliers / n, 4),
                      round(overlap, 4), hom, method)


def homography_array(match: SceneMatch) -> np.ndarray | None:
    """The match's full-size homography as a 3x3 float64 array, or None."""
    return None if match.homography is None else np.array(match.homography, np.float64).reshape(3, 3)


def unchanged(fb: PhotoFeatures, fa: PhotoFeatures, match: SceneMatch, cfg: VerifyConfig) -> bool:
    """Whether the after photo is the before photo again (same framing, no visible change).

    True when the homography moves no full-size corner by more than ``unchanged_max_shift`` of the
    diagonal, the inlier ratio is at least ``unchanged_min_inlier_ratio``, and at most
    ``unchanged_max_changed`` of the (slightly blurred) grey pixels differ by more than 24 levels. Removing
    even one small item changes more pixels than that; recompression or resizing does not.
    """
    h = homography_array(match)
    if not match.same_place or h is None or match.inlier_ratio < cfg.unchanged_min_inlier_ratio:
        return False
    w0, h0 = fb.full_size
    corners = np.array([[0, 0], [w0, 0], [w0, h0], [0, h0]], np.float64)
    moved, _ = project(corners, h)
    shift = np.linalg.norm(moved - corners * np.array([fa.full_size[0] / w0, fa.full_size[1] / h0]), axis=1)
    if shift.max() > cfg.unchanged_max_shift * float(np.hypot(*fa.full_size)):
        return False
    a = fb.grey
    b = fa.grey if fa.grey.shape == a.shape else cv2.resize(fa.grey, (a.shape[1], a.shape[0]),
                                                             interpolation=cv2.INTER_AREA)
    a = cv2.GaussianBlur(a, (5, 5), 0).astype(np.int16)
    b = cv2.GaussianBlur(b, (5, 5), 0).astype(np.int16)
    return float((np.abs(a - b) > 24).mean()) <= cfg.unchanged_max_changed
