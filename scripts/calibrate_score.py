"""Calibrate the verify and score stages on the generated before/after set (datasets/calibration.py).

Runs the real pipeline code on each entry: ingest -> load (pipeline.load) -> quality -> verify_entry ->
score_entry, with the ground-truth boxes as detections (``--detector truth``, the default: this measures
the verification and scoring logic, not the detector) or the project's detector (``--detector model``,
through pipeline.detect.infer.load_detector). UNCHANGED_AFTER comes from the verify stage's own
unchanged-pair signal here (the dedup stage's flag needs a workspace; in a real run both are used and the
score raises the flag once).

Reports on the held-out part (scene groups held out by the generator): Spearman(score, true fraction
removed), SCENE_MISMATCH recall and false-flag rate on true pairs, UNCHANGED_AFTER recall, each flag's
precision/recall, counting error and pairing accuracy; the tuning part is reported alongside. Writes
``docs/score-calibration.md`` (``--doc``).

    python scripts/calibrate_score.py --out /tmp/calib --n 240
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.config import Config  # noqa: E402
from pipeline.ingest import ingest  # noqa: E402
from pipeline.load import PhotoError, load_photo, read_photo  # noqa: E402
from pipeline.score import PhotoInfo, ScoreInputs, score_entry  # noqa: E402
from pipeline.types import Detections, ScoreCard  # noqa: E402
from pipeline.verify import measure_quality, verify_entry  # noqa: E402


def _calibration_module():
    spec = importlib.util.spec_from_file_location("calibration", REPO / "datasets" / "calibration.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["calibration"] = mod
    spec.loader.exec_module(mod)
    return mod


cal = _calibration_module()

TRUTH_FLAGS = ("SCENE_MISMATCH", "UNCHANGED_AFTER", "EXIF_TIME_ORDER", "EXIF_TIME_GAP", "GPS_MISMATCH",
               "LITTER_REMAINS", "NO_LITTER_BEFORE", "LOW_QUALITY", "CLAIM_IMPLAUSIBLE", "EXIF_MISSING")


@dataclass
class Outcome:
    truth: object  # cal.EntryTruth
    card: ScoreCard
    pairs: list[tuple[str, str]]  # same-place pairs found
    removed_found: int
    items_found: int
    seconds: float


def run_entry(sub, truth, cfg: Config, detector=None) -> Outcome:
    t0 = time.perf_counter()
    boxes = {p.rel_path: p.boxes for p in truth.photos}
    photos, items = {}, []
    loaded = []
    for ref in sub.photos:
        try:
            data = read_photo(ref.path, cfg.load, rel_path=ref.rel_path)
            photo = load_photo(data, cfg.load, rel_path=ref.rel_path)
        except PhotoError as e:
            photos[ref.rel_path] = PhotoInfo(ref.role, problem=e.problem)
            continue
        loaded.append((ref, photo))
    if detector is not None:
        found = detector.detect([p for _, p in loaded])
    else:
        found = [Detections(np.array(boxes[r.rel_path], np.float32).reshape(-1, 4),
                            np.ones(len(boxes[r.rel_path])), np.zeros(len(boxes[r.rel_path])), ("litter",),
                            "ground-truth", (p.meta.width, p.meta.height)) for r, p in loaded]
    for (ref, photo), det in zip(loaded, found):
        photos[ref.rel_path] = PhotoInfo(ref.role, photo.meta, None, det, measure_quality(photo.image),
                                         photo.meta.sha256)
        items.append((ref, photo, det))
    ver = verify_entry(items, cfg.verify)
    model_id = detector.model_id if detector is not None and hasattr(detector, "model_id") else "ground-truth"
    card = score_entry(ScoreInputs(sub, photos, ver, model_id, cfg, []))
    same = ver.same_place_pairs
    return Outcome(truth, card, [(p.before, p.after) for p in same],
                   sum(p.change.removed for p in same if p.change), sum(p.change.before_count for p in same if p.change),
                   time.perf_counter() - t0)


def metrics(outs: list[Outcome]) -> dict:
    """The acceptance numbers and per-flag precision/recall of a list of outcomes."""
    scored = [o for o in outs if o.card.score is not None]
    rho = spearmanr([o.card.score for o in scored], [o.truth.true_fraction_removed for o in scored])[0] \
        if len(scored) > 2 else float("nan")
    genuine = [o for o in scored if o.truth.scenario not in ("unrelated", "identical")]
    rho_genuine = spearmanr([o.card.score for o in genuine], [o.truth.true_fraction_removed for o in genuine])[0] \
        if len(genuine) > 2 else float("nan")
    flags = {}
    for code in TRUTH_FLAGS:
        tp = sum(code in o.truth.expected_flags and any(f.code == code for f in o.card.flags) for o in outs)
        fp = sum(code not in o.truth.expected_flags and any(f.code == code for f in o.card.flags) for o in outs)
        fn = sum(code in o.truth.expected_flags and not any(f.code == code for f in o.card.flags) for o in outs)
        flags[code] = {"support": tp + fn, "tp": tp, "fp": fp, "fn": fn,
                       "precision": tp / (tp + fp) if tp + fp else float("nan"),
                       "recall": tp / (tp + fn) if tp + fn else float("nan")}
    true_pairs = [o for o in outs if o.truth.scenario != "unrelated"]
    mismatch_false = sum(any(f.code == "SCENE_MISMATCH" for f in o.card.flags) for o in true_pairs)
    unrel = [o for o in outs if o.truth.scenario == "unrelated"]
    ident = [o for o in outs if o.truth.scenario == "identical"]
    counted = [o for o in outs if o.truth.scenario not in ("unrelated", "identical") and o.items_found]
    multi = [o for o in outs if o.truth.scenario == "multi"]
    return {
        "entries": len(outs), "scored": len(scored), "spearman": rho, "spearman_genuine": rho_genuine,
        "scene_mismatch_recall": flags["SCENE_MISMATCH"]["recall"],
        "scene_mismatch_false_rate": mismatch_false / len(true_pairs) if true_pairs else float("nan"),
        "unchanged_recall": flags["UNCHANGED_AFTER"]["recall"],
        "n_unrelated": len(unrel), "n_identical": len(ident), "n_true_pairs": len(true_pairs),
        "removed_count_exact": sum(o.removed_found == o.truth.removed and o.items_found == o.truth.items_before
                                   for o in counted) / len(counted) if counted else float("nan"),
        "n_counted": len(counted),
        "pairing_exact": sum(sorted(o.pairs) == sorted(map(tuple, o.truth.true_pairs)) for o in multi) / len(multi)
        if multi else float("nan"), "n_multi": len(multi),
        "seconds_per_entry": float(np.mean([o.seconds for o in outs])) if outs else float("nan"),
        "flags": flags,
    }


def _f(x: float, nd: int = 3) -> str:
    return "n/a" if x != x else f"{x:.{nd}f}"


def report(held: dict, tune: dict, args, cfg: Config, misses: list[str]) -> str:
    lines = [
        "# Score calibration", "",
        f"Generated by `scripts/calibrate_score.py --n {args.n} --seed {args.seed} --detector {args.detector}` on the "
        "before/after set of `datasets/calibration.py` (real litter photos of ../shared/data with their YOLO boxes; "
        "litter removed by covering it with nearby ground, camera moved by a random homography with a light "
        "change, unrelated and identical after photos, EXIF/GPS variations). Detections: "
        + ("the ground-truth boxes, so these numbers measure verification and scoring, not the detector."
           if args.detector == "truth" else "the project's detector (pipeline.detect.infer)."),
        f"Config hash `{cfg.hash}`; verify: {cfg.verify.detector} features (fallback "
        f"{cfg.verify.fallback_detector or 'none'}), {cfg.verify.features} per photo at {cfg.verify.max_side} px, "
        f"min {cfg.verify.min_inliers} inliers.", "",
        "Held out: entries whose source scene group the generator held out (split by group, so no scene is in "
        "both parts). Thresholds were set on the tuning part and by reasoning, not on the held-out part.", "",
        "## Acceptance (held-out part)", "",
        "| measure | target | held out | tuning part |", "|---|---|---|---|",
        f"| entries | | {held['entries']} | {tune['entries']} |",
        f"| Spearman(score, true fraction removed), all entries | >= 0.8 | {_f(held['spearman'])} | {_f(tune['spearman'])} |",
        f"| Spearman, genuine entries only (no unrelated/identical) | | {_f(held['spearman_genuine'])} | {_f(tune['spearman_genuine'])} |",
        f"| SCENE_MISMATCH recall (unrelated after photo) | >= 0.95 | {_f(held['scene_mismatch_recall'])} (n={held['n_unrelated']}) | {_f(tune['scene_mismatch_recall'])} (n={tune['n_unrelated']}) |",
        f"| SCENE_MISMATCH false flags on true pairs | <= 0.05 | {_f(held['scene_mismatch_false_rate'])} (n={held['n_true_pairs']}) | {_f(tune['scene_mismatch_false_rate'])} (n={tune['n_true_pairs']}) |",
        f"| UNCHANGED_AFTER recall (identical after photo) | 1.0 | {_f(held['unchanged_recall'])} (n={held['n_identical']}) | {_f(tune['unchanged_recall'])} (n={tune['n_identical']}) |",
        f"| removed and before counts exactly right (genuine pairs) | | {_f(held['removed_count_exact'])} (n={held['n_counted']}) | {_f(tune['removed_count_exact'])} (n={tune['n_counted']}) |",
        f"| multi-photo entries paired exactly | | {_f(held['pairing_exact'])} (n={held['n_multi']}) | {_f(tune['pairing_exact'])} (n={tune['n_multi']}) |",
        f"| seconds per entry (load + quality + verify + score, 2 shared cores) | | {_f(held['seconds_per_entry'], 2)} | {_f(tune['seconds_per_entry'], 2)} |",
        "", "## Each flag (held-out part)", "",
        "| flag | support | precision | recall | false positives | missed |", "|---|---|---|---|---|---|",
    ]
    for code, m in held["flags"].items():
        lines.append(f"| `{code}` | {m['support']} | {_f(m['precision'], 2)} | {_f(m['recall'], 2)} | {m['fp']} | {m['fn']} |")
    lines += ["", "## Each flag (tuning part)", "", "| flag | support | precision | recall |", "|---|---|---|---|"]
    for code, m in tune["flags"].items():
        lines.append(f"| `{code}` | {m['support']} | {_f(m['precision'], 2)} | {_f(m['recall'], 2)} |")
    lines += ["", "## UNCHANGED_AFTER: two signals", "",
              "In a run the dedup stage raises UNCHANGED_AFTER from perceptual hashes (pipeline/dedup/flags.py). "
              "The verify stage adds a second signal of its own: a same-place pair whose homography moves no "
              f"corner by more than {cfg.verify.unchanged_max_shift:.0%} of the diagonal, with an inlier ratio of "
              f"at least {cfg.verify.unchanged_min_inlier_ratio} and at most {cfg.verify.unchanged_max_changed:.2%} "
              "of grey pixels changed by more than 24 levels (removing one small item changes more; JPEG "
              "recompression does not). The score raises the flag once if either signal fires, and the flag "
              "zeroes the removed component. This calibration uses the verify signal alone.",
              "", "## Notes", "",
              "- LOW_QUALITY truth marks only the after photos the generator blurred (sigma 6 px) or darkened "
              "(x0.13). Dim source photos that the light change (gamma up to 1.4, gain down to 0.8) pushes "
              f"below the brightness threshold ({cfg.score.dark_max_mean:g}) are flagged too and count as false "
              "positives here, although they are below the threshold; the list below gives each case.",
              "- Sources whose litter boxes cover more than 30 % of the photo (close-ups of one item) are left "
              "out of the set: once the item is removed nothing of the place is left to match.",
              "- EXIF and GPS flags are rule checks, so their perfect scores only confirm the rules and the "
              "EXIF round trip through pipeline.load.",
              "", "## Misses and false flags (held-out part)", ""]
    lines += [f"- {m}" for m in misses[:40]] or ["- none"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=Path("/tmp/cleanup-verify-calibration"))
    ap.add_argument("--n", type=int, default=240)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--detector", choices=("truth", "model"), default="truth")
    ap.add_argument("--config", type=Path, help="TOML config overriding the defaults")
    ap.add_argument("--doc", type=Path, default=REPO / "docs" / "score-calibration.md")
    ap.add_argument("--json", type=Path, help="also write the metrics as JSON here")
    args = ap.parse_args(argv)
    if str(args.out.resolve()).startswith(str(REPO)):
        ap.error("--out must lie outside the repository")
    cfg = Config.from_toml(args.config) if args.config else Config()
    if args.rebuild or not (args.out / "truth.jsonl").exists():
        print(f"building {args.n} entries in {args.out} ...", flush=True)
        cal.build_calibration_set(args.shared, args.out, args.n, args.seed)
    truths = {t.entry_id: t for t in cal.read_truth(args.out)}
    detector = None
    if args.detector == "model":
        from pipeline.detect.infer import load_detector

        detector = load_detector(cfg.detect)
    batch = ingest(args.out / "batch")
    outs = []
    for k, sub in enumerate(batch.submissions):
        if sub.entry_id not in truths:
            continue
        outs.append(run_entry(sub, truths[sub.entry_id], cfg, detector))
        if (k + 1) % 20 == 0:
            print(f"{k + 1}/{len(batch.submissions)} entries", flush=True)
    held = [o for o in outs if o.truth.holdout]
    tune = [o for o in outs if not o.truth.holdout]
    mh, mt = metrics(held), metrics(tune)
    misses = []
    for o in held:
        got = {f.code for f in o.card.flags}
        exp = set(o.truth.expected_flags)
        for code in TRUTH_FLAGS:
            if (code in got) != (code in exp):
                why = next((f.message for f in o.card.flags if f.code == code), o.card.explanation[:160])
                misses.append(f"{o.truth.entry_id} ({o.truth.scenario}): {'missed' if code in exp else 'false'} "
                              f"{code}; score {o.card.score}, truth removed {o.truth.true_fraction_removed}; {why}")
    text = report(mh, mt, args, cfg, misses)
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({"holdout": mh, "tuning": mt}, indent=1, default=float))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
