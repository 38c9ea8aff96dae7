"""Calibrate the verify and score stages on the generated before/after set (datasets/calibration.py).

Runs the real pipeline code on each entry: ingest -> load (pipeline.load) -> detect -> quality ->
verify_entry -> score_entry. Detections come from the shipped default model (``--detector model``, the
default: pipeline.detect.infer.load_detector, what a run uses) and, with ``--detector both`` (also the
default), from the ground-truth boxes as well: that second measurement replaces the detector by the truth,
so it is an UPPER BOUND of what the verify and score logic can do, never the result. UNCHANGED_AFTER comes from the verify stage's own
unchanged-pair signal here (the dedup stage's flag needs a workspace; in a real run both are used and the
score raises the flag once).

Reports per kind of entry (close-up litter photos, wide street scenes) on the held-out part (photos and
street scenes no detector trained on): Spearman(score, true fraction removed), the mean absolute error of
the ``removed`` component against the true fraction removed (genuine entries), SCENE_MISMATCH recall and false-flag rate on true pairs, UNCHANGED_AFTER recall, each flag's
precision/recall, counting error and pairing accuracy; the tuning part is reported alongside. Writes
``docs/score-calibration.md`` (``--doc``).

    python scripts/calibrate_score.py --out /tmp/calib --n 240 --n-wide 120
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
from pipeline.score.explain import card_words  # noqa: E402
from pipeline.types import Detections, ScoreCard  # noqa: E402
from pipeline.verify import measure_quality  # noqa: E402
from pipeline.verify.entry import count_changes, pair_entry  # noqa: E402


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
    removed_component: float = 0.0
    remaining_found: int = 0  # items the pipeline calls remaining (left in place, or seen after only)


def run_entry(sub, truth, cfg: Config, detector=None, with_truth: bool = False) -> dict[str, Outcome]:
    """The entry through load -> detect -> quality -> verify -> score: ``{"model": ...}`` with the detector's
    boxes (when one is given) and ``{"truth": ...}`` with the true boxes (when ``with_truth``). Decoding and
    the same-place pairing are done once and shared (they do not depend on the boxes)."""
    t0 = time.perf_counter()
    boxes = {p.rel_path: p.boxes for p in truth.photos}
    problems, loaded = {}, []
    for ref in sub.photos:
        try:
            data = read_photo(ref.path, cfg.load, rel_path=ref.rel_path)
            photo = load_photo(data, cfg.load, rel_path=ref.rel_path)
        except PhotoError as e:
            problems[ref.rel_path] = PhotoInfo(ref.role, problem=e.problem)
            continue
        loaded.append((ref, photo))
    quality = {ref.rel_path: measure_quality(photo.image) for ref, photo in loaded}
    pairing = pair_entry(loaded, cfg.verify)
    shared_s = time.perf_counter() - t0
    sets = {}
    if detector is not None:
        sets["model"] = (detector.model_id, lambda: detector.detect([p for _, p in loaded]))
    if with_truth:
        sets["truth"] = ("ground-truth", lambda: [
            Detections(np.array(boxes[r.rel_path], np.float32).reshape(-1, 4), np.ones(len(boxes[r.rel_path])),
                       np.zeros(len(boxes[r.rel_path])), ("litter",), "ground-truth", (p.meta.width, p.meta.height),
                       cfg.detect.confidence) for r, p in loaded])
    out = {}
    for name, (model_id, find) in sets.items():
        t1 = time.perf_counter()
        found = find()
        photos = dict(problems)
        items = []
        for (ref, photo), det in zip(loaded, found):
            photos[ref.rel_path] = PhotoInfo(ref.role, photo.meta, None, det, quality[ref.rel_path], photo.meta.sha256)
            items.append((ref, photo, det))
        ver = count_changes(items, pairing, cfg.verify)
        card = score_entry(ScoreInputs(sub, photos, ver, model_id, cfg, []))
        same = ver.same_place_pairs
        out[name] = Outcome(truth, card, [(p.before, p.after) for p in same],
                            sum(p.change.removed for p in same if p.change),
                            sum(p.change.before_count for p in same if p.change),
                            shared_s + time.perf_counter() - t1, float(card.components.get("removed", 0.0)),
                            sum(p.change.remaining for p in same if p.change))
    return out


def metrics(outs: list[Outcome]) -> dict:
    """The acceptance numbers and per-flag precision/recall of a list of outcomes."""
    scored = [o for o in outs if o.card.score is not None]
    rho = spearmanr([o.card.score for o in scored], [o.truth.true_fraction_removed for o in scored])[0] \
        if len(scored) > 2 else float("nan")
    genuine = [o for o in scored if o.truth.scenario not in ("unrelated", "identical")]
    genuine_all = [o for o in outs if o.truth.scenario not in ("unrelated", "identical")]
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
        "removed_mae": float(np.mean([abs(o.removed_component - o.truth.true_fraction_removed) for o in genuine_all]))
        if genuine_all else float("nan"), "n_genuine": len(genuine_all),
        "no_litter_before_false": sum(o.truth.items_before > 0 and any(f.code == "NO_LITTER_BEFORE" for f in o.card.flags)
                                      for o in genuine_all),
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
        # full clean-ups (every item removed): what the pipeline still calls remaining there is wrong, mostly
        # street objects taken for litter in both photos (issue 18)
        "remaining_in_full": sum(o.remaining_found for o in genuine_all if o.truth.true_fraction_removed >= 1.0),
        "n_full": sum(o.truth.true_fraction_removed >= 1.0 for o in genuine_all),
        "flags": flags,
    }


def _f(x: float, nd: int = 3) -> str:
    return "n/a" if x != x else f"{x:.{nd}f}"


KINDS = ("closeup", "wide")
KIND_NAMES = {"closeup": "close-up litter photos", "wide": "wide street scenes"}


def _kind_table(results: dict, part: str) -> list[str]:
    """Rows: per kind and detector, Spearman, removed error and NO_LITTER_BEFORE on entries with litter."""
    lines = ["| entries | detections | n | Spearman(score, true share removed) | Spearman, genuine only | "
             "mean abs. error of `removed` (genuine, n) | NO_LITTER_BEFORE on entries with litter | "
             "items called remaining in full clean-ups (entries) |",
             "|---|---|---|---|---|---|---|---|"]
    for kind in KINDS:
        for det, label in (("model", "**shipped detector**"), ("truth", "ground truth (upper bound)")):
            m = results.get(det, {}).get(part, {}).get(kind)
            if m:
                lines.append(f"| {KIND_NAMES[kind]} | {label} | {m['entries']} | {_f(m['spearman'])} | "
                             f"{_f(m['spearman_genuine'])} | {_f(m['removed_mae'])} ({m['n_genuine']}) | "
                             f"{m['no_litter_before_false']} | {m.get('remaining_in_full', 'n/a')} "
                             f"({m.get('n_full', 'n/a')}) |")
    return lines


def report(results: dict, args, cfg: Config, misses: list[str], model_id: str) -> str:
    """``results[detector][part][kind]``: metrics; detector in (model, truth), part in (held, tune), kind in
    KINDS or "all"."""
    main_det = "model" if "model" in results else "truth"
    held, tune = results[main_det]["held"]["all"], results[main_det]["tune"]["all"]
    lines = [
        "# Score calibration", "",
        f"Generated by `scripts/calibrate_score.py --n {args.n} --n-wide {args.n_wide} --seed {args.seed} "
        f"--detector {args.detector}` on the before/after set of `datasets/calibration.py`: real litter photos of "
        "../shared/data with their YOLO boxes (close-up entries; litter removed by covering it with nearby "
        "ground) and wide street scenes with litter items from the same photos blended in at 1.5-12 % of the "
        "width (wide entries; removed items are simply not placed in the after photo); the camera moved by a "
        "random homography with a light change; unrelated and identical after photos, EXIF/GPS variations.", "",
        f"Detections: the shipped default model `{model_id}` at its operating threshold "
        f"{cfg.detect.confidence} with candidates down to {cfg.detect.candidate_confidence} (what `run` uses). "
        "Rows marked 'ground truth (upper bound)' replace the detector by the true boxes: they bound what the "
        "verify and score logic could do with a perfect detector and are never the result.", "",
        f"Config hash `{cfg.hash}`; verify: {cfg.verify.detector} features (fallback "
        f"{cfg.verify.fallback_detector or 'none'}), {cfg.verify.features} per photo at {cfg.verify.max_side} px, "
        f"min {cfg.verify.min_inliers} inliers.", "",
        "Held out: close-up entries built from `litter/aquatrash/val` and wide entries on the street scenes of "
        "the wide val split (bicycle street video, pedestrian-view photos) with items cut from aquatrash/val "
        "photos: no detector was trained on them. The tuning part uses the training folders and training "
        "scenes. Thresholds and weights were set on the tuning part and by reasoning, not on the held-out part.",
        "", "## Score against litter removed, held-out part (targets: Spearman >= 0.85 on each kind, "
        "mean error of `removed` <= 0.15, shipped detector)", ""]
    lines += _kind_table(results, "held")
    lines += ["", "## The same on the tuning part", ""]
    lines += _kind_table(results, "tune")
    lines += [
        "", f"## Other checks (held-out part, {'shipped detector' if main_det == 'model' else 'ground truth'}, "
        "both kinds)", "",
        "| measure | target | held out | tuning part |", "|---|---|---|---|",
        f"| entries | | {held['entries']} | {tune['entries']} |",
        f"| SCENE_MISMATCH recall (unrelated after photo) | >= 0.95 | {_f(held['scene_mismatch_recall'])} (n={held['n_unrelated']}) | {_f(tune['scene_mismatch_recall'])} (n={tune['n_unrelated']}) |",
        f"| SCENE_MISMATCH false flags on true pairs | <= 0.05 | {_f(held['scene_mismatch_false_rate'])} (n={held['n_true_pairs']}) | {_f(tune['scene_mismatch_false_rate'])} (n={tune['n_true_pairs']}) |",
        f"| UNCHANGED_AFTER recall (identical after photo) | 1.0 | {_f(held['unchanged_recall'])} (n={held['n_identical']}) | {_f(tune['unchanged_recall'])} (n={tune['n_identical']}) |",
        f"| removed and before counts exactly right (genuine pairs) | | {_f(held['removed_count_exact'])} (n={held['n_counted']}) | {_f(tune['removed_count_exact'])} (n={tune['n_counted']}) |",
        f"| multi-photo entries paired exactly | | {_f(held['pairing_exact'])} (n={held['n_multi']}) | {_f(tune['pairing_exact'])} (n={tune['n_multi']}) |",
        f"| seconds per entry (load + detect + quality + verify + score, 2 shared cores) | | {_f(held['seconds_per_entry'], 2)} | {_f(tune['seconds_per_entry'], 2)} |",
        "", "## Each flag (held-out part)", "",
        "| flag | support | precision | recall | false positives | missed |", "|---|---|---|---|---|---|",
    ]
    for code, m in held["flags"].items():
        lines.append(f"| `{code}` | {m['support']} | {_f(m['precision'], 2)} | {_f(m['recall'], 2)} | {m['fp']} | {m['fn']} |")
    lines += ["", "## Each flag (tuning part)", "", "| flag | support | precision | recall |", "|---|---|---|---|"]
    for code, m in tune["flags"].items():
        lines.append(f"| `{code}` | {m['support']} | {_f(m['precision'], 2)} | {_f(m['recall'], 2)} |")
    lines += ["", "## Notes", "",
              "- The `removed` component (pipeline/score/card.py) comes from the litter-change rule verify-3 "
              "(pipeline/verify/change.py): before candidates down to the candidate threshold, each weighted "
              "by min(1, confidence / operating threshold), judged removed or remaining by an after detection "
              "or by the aligned appearance of their spot; after items missed before are not counted as new.",
              "- UNCHANGED_AFTER comes from the verify stage's own unchanged-pair signal here (the dedup stage's "
              "flag needs a workspace; in a run both are used and the score raises the flag once).",
              "- LOW_QUALITY truth marks only the after photos the generator blurred (sigma 6 px) or darkened "
              "(x0.13); dim source photos pushed below the brightness threshold count as false positives.",
              "- Sources whose litter boxes cover more than 30 % of the photo (close-ups of one item) are left "
              "out of the close-up entries: once the item is removed nothing of the place is left to match.",
              "- EXIF and GPS flags are rule checks, so their perfect scores only confirm the rules and the "
              "EXIF round trip through pipeline.load.",
              "", "## Misses and false flags (held-out part)", ""]
    lines += [f"- {m}" for m in misses[:40]] or ["- none"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=Path("/tmp/cleanup-verify-calibration"))
    ap.add_argument("--n", type=int, default=240, help="close-up entries")
    ap.add_argument("--n-wide", type=int, default=120, help="wide street-scene entries")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--detector", choices=("both", "model", "truth"), default="both",
                    help="model: the shipped default detector (the result); truth: the true boxes (an upper "
                         "bound); both (default): the two, side by side")
    ap.add_argument("--config", type=Path, help="TOML config overriding the defaults")
    ap.add_argument("--doc", type=Path, default=REPO / "docs" / "score-calibration.md")
    ap.add_argument("--json", type=Path, help="also write the metrics as JSON here")
    args = ap.parse_args(argv)
    if str(args.out.resolve()).startswith(str(REPO)):
        ap.error("--out must lie outside the repository")
    cfg = Config.from_toml(args.config) if args.config else Config()
    if args.rebuild or not (args.out / "truth.jsonl").exists():
        print(f"building {args.n} + {args.n_wide} entries in {args.out} ...", flush=True)
        cal.build_calibration_set(args.shared, args.out, args.n, args.seed, n_wide=args.n_wide)
    truths = {t.entry_id: t for t in cal.read_truth(args.out)}
    batch = ingest(args.out / "batch")
    results: dict = {}
    dets = ("model", "truth") if args.detector == "both" else (args.detector,)
    detector = None
    model_id = "ground-truth"
    if "model" in dets:
        from pipeline.detect.infer import load_detector

        detector = load_detector(cfg.detect)
        model_id = detector.model_id
    all_outs: dict = {d: [] for d in dets}
    subs = [s for s in batch.submissions if s.entry_id in truths]
    for k, sub in enumerate(subs):
        for d, o in run_entry(sub, truths[sub.entry_id], cfg, detector, "truth" in dets).items():
            all_outs[d].append(o)
        if (k + 1) % 20 == 0:
            print(f"{k + 1}/{len(subs)} entries", flush=True)
    for det, outs in all_outs.items():
        results[det] = {}
        for part, held in (("held", True), ("tune", False)):
            sel = [o for o in outs if o.truth.holdout == held]
            results[det][part] = {"all": metrics(sel)}
            for kind in KINDS:
                ks = [o for o in sel if o.truth.kind == kind]
                if ks:
                    results[det][part][kind] = metrics(ks)
    main_det = "model" if "model" in all_outs else "truth"
    misses = []
    for o in all_outs[main_det]:
        if not o.truth.holdout:
            continue
        got = {f.code for f in o.card.flags}
        exp = set(o.truth.expected_flags)
        for code in TRUTH_FLAGS:
            if (code in got) != (code in exp):
                why = next((f.message for f in o.card.flags if f.code == code), card_words(o.card)[0][:160])
                misses.append(f"{o.truth.entry_id} ({o.truth.kind}, {o.truth.scenario}): "
                              f"{'missed' if code in exp else 'false'} {code}; score {o.card.score}, truth removed "
                              f"{o.truth.true_fraction_removed}; {why}")
    text = report(results, args, cfg, misses, model_id)
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
