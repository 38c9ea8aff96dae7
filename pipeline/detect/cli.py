"""Commands of the litter detector: ``train``, ``evaluate``, ``models list``, ``dataset build``."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path


def register(sub, dataset_sub) -> None:
    from .train import TrainRecipe

    p = dataset_sub.add_parser("build", help="assemble a YOLO dataset from a definition in datasets/",
                               description="Assemble a YOLO dataset (images, labels, data.yaml) from a definition "
                                           "in datasets/: litter1, litter1s, litter2 to train on, aquatrash-val "
                                           "(evaluation only) to measure on. Source paths are relative to the "
                                           "shared data folder (--data-root).")
    p.add_argument("name", help="definition name (datasets/NAME.yaml) or path to a definition")
    p.add_argument("--out", type=Path, help="output folder (default: build/datasets/NAME in the project)")
    p.add_argument("--data-root", type=Path,
                   help="shared data folder the definition's paths are relative to (default: $CLEANUP_VERIFY_DATA, "
                        "else ../shared/data next to the project)")
    p.set_defaults(func=cmd_dataset_build)

    p = sub.add_parser("train", help="train a litter detector offline (ultralytics)",
                       description="Train a litter detector offline on a data.yaml written by 'dataset build' "
                                   "(never on the evaluation-only aquatrash-val). The run folder PROJECT/NAME "
                                   "holds results.csv (the learning curve), args.yaml and weights/ (last.pt to "
                                   "resume, best.pt). Progress goes to standard error. An interrupted run "
                                   "continues with --resume; rerunning without it refuses to overwrite the "
                                   "checkpoints.")
    p.add_argument("--data", type=Path, help="data.yaml written by 'dataset build' (required unless --resume)")
    p.add_argument("--init", type=Path, help="initial weights (.pt, local path) (default: none, from scratch)")
    p.add_argument("--project", type=Path, default=Path("runs/train"),
                   help="folder of runs (default: runs/train)")
    p.add_argument("--name", default="litter", help="run name, a folder under --project (default: litter)")
    p.add_argument("--resume", action="store_true",
                   help="continue PROJECT/NAME from weights/last.pt with its own settings (default: off)")
    p.add_argument("--threads", type=int, default=2, help="torch threads, 0: all cores (default: 2)")
    p.add_argument("--device", default="cpu", help="torch device: cpu, 0 for the first GPU, ... (default: cpu)")
    d = TrainRecipe()
    for f in dataclasses.fields(TrainRecipe):
        flag = "--" + f.name.replace("_", "-")
        typ = {int: int, float: float, str: str, bool: _bool}.get(type(getattr(d, f.name)), str)
        if f.name == "hours":
            typ = float
        if f.name == "cache":
            typ = _cache
        default = getattr(d, f.name)
        shown = "none" if default is None else str(default).lower() if isinstance(default, bool) else default
        p.add_argument(flag, type=typ, default=default, help=f"{f.metadata['help']} (default: {shown})")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="mAP50, mAP50-95, precision/recall and false detections of a model")
    p.add_argument("--model", default="default", help="registry name or path to weights (default: default)")
    p.add_argument("--data", type=Path, required=True, help="data.yaml (its 'val' split is evaluated)")
    p.add_argument("--confidence", type=float, help="operating threshold (default: the config's detect.confidence)")
    p.add_argument("--imgsz", type=int, help="image size (default: the config's detect.imgsz)")
    p.add_argument("--backend", choices=("torch", "onnx", "openvino"),
                   help="runtime (default: the config's detect.backend); the model must have its file")
    p.add_argument("--negatives", type=Path, help="folder of clean photos for false detections per image "
                                                    "(default: the data.yaml's 'negatives' list)")
    p.add_argument("--config", type=Path, help="TOML configuration")
    p.add_argument("--json", action="store_true", help="last line printed: one JSON object of the metrics")
    p.add_argument("--out", type=Path, metavar="FILE", help="also write the metrics as JSON to FILE")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("models", help="the model registry (models/)")
    msub = p.add_subparsers(dest="models_command", metavar="MODELS_COMMAND")
    p.set_defaults(func=lambda a: (p.print_help(sys.stderr), 2)[1])
    pl = msub.add_parser("list", help="registered models, their metrics, and which one is the default")
    pl.add_argument("--json", action="store_true")
    pl.set_defaults(func=cmd_models_list)
    pr = msub.add_parser("register", help="export a training run's selected epoch to models/NAME with a card")
    pr.add_argument("run", type=Path, help="training run folder (holds args.yaml, results.csv, weights/)")
    pr.add_argument("--name", required=True, help="registry name (folder under models/)")
    pr.add_argument("--eval", type=Path, action="append", default=[],
                    help="data.yaml to measure for the card (repeatable; the last one is the headline)")
    pr.add_argument("--confidence", type=float, help="operating threshold (default: best F1 on the run's val)")
    pr.add_argument("--tune", type=Path, metavar="DATA_YAML",
                    help="a second tuning split (e.g. build/datasets/litter4-tune/data_wide.yaml): every epoch "
                         "checkpoint is measured on it and the epoch with the best mean of both mAP50s is taken")
    pr.add_argument("--imgsz", type=int, default=640)
    pr.add_argument("--init", default="", help="description of the initial weights, for the card")
    pr.add_argument("--notes", default="")
    pr.add_argument("--set-default", action="store_true", help="point models/default at it")
    pr.add_argument("--threads", type=int, default=0)
    pr.set_defaults(func=cmd_models_register)
    pe = msub.add_parser("export", help="add an ONNX or OpenVINO (FP32 or INT8) file to a registered model")
    pe.add_argument("name", help="registry name (folder under models/)")
    pe.add_argument("--backend", required=True, choices=("onnx", "openvino"))
    pe.add_argument("--imgsz", type=int, required=True, help="input side in pixels (the detect stage must "
                                                              "then run at this detect.imgsz)")
    pe.add_argument("--int8", action="store_true", help="OpenVINO INT8: quantise, calibrated on --calib-data")
    pe.add_argument("--calib-data", type=Path, metavar="DATA_YAML",
                    help="data.yaml whose TRAIN images calibrate INT8 (never its val, never an evaluation set)")
    pe.add_argument("--calib-images", type=int, default=300, help="calibration images (default: 300)")
    pe.add_argument("--eval", type=Path, action="append", default=[], metavar="DATA_YAML",
                    help="measure the exported file on this data.yaml for the card (repeatable)")
    pe.add_argument("--threads", type=int, default=0, help="threads (0: all cores)")
    pe.set_defaults(func=cmd_models_export)


def _bool(s: str) -> bool:
    if s.lower() in ("1", "true", "yes", "on"):
        return True
    if s.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {s!r}")


def _cache(s: str) -> str | bool:
    """ultralytics' image cache: ram, disk, or false (true means ram)."""
    if s.lower() in ("ram", "disk"):
        return s.lower()
    return "ram" if _bool(s) else False


def _usage(msg: str):
    from ..cli import UsageError

    return UsageError(msg)


def cmd_dataset_build(args: argparse.Namespace) -> int:
    from .datasets import build_dataset, default_out_dir, load_definition, shared_data_root

    try:
        defn = load_definition(args.name)
        report = build_dataset(defn, args.out or default_out_dir(defn.name), args.data_root)
    except ValueError as e:
        msg = str(e)
        if msg.startswith("no such folder"):
            root = args.data_root or shared_data_root()
            msg += (f" (the data folder used was {root}; point --data-root at the shared data folder, or set "
                    "CLEANUP_VERIFY_DATA)")
        raise _usage(msg)
    print(report.summary())
    if not report.ok:
        print("error: train/val leakage (see above); fix the definition", file=sys.stderr)
        return 1
    return 0


def interrupted_message(project: Path, name: str) -> str:
    """What to do after ``train`` was interrupted: continue with --resume once a checkpoint exists."""
    import shlex

    last = Path(project).resolve() / name / "weights" / "last.pt"
    if last.is_file():
        return ("interrupted; continue this run with: cleanup-verify train --resume --project "
                f"{shlex.quote(str(project))} --name {shlex.quote(name)} (without --resume the same command "
                "refuses, to keep its checkpoints)")
    return "interrupted before the first checkpoint was written; rerun the same command to start again"


def cmd_train(args: argparse.Namespace) -> int:
    from .train import TrainRecipe, select_epoch, train_model

    recipe = TrainRecipe(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainRecipe)
                            if hasattr(args, f.name)})
    if not args.resume and args.data is None:
        raise _usage("--data is required (or --resume)")
    try:
        run = train_model(args.data, init=args.init, project=args.project, name=args.name, recipe=recipe,
                          threads=args.threads, resume=args.resume, device=args.device,
                          progress=lambda line: print(line, file=sys.stderr, flush=True))
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        raise _usage(str(e))
    except KeyboardInterrupt:
        print(interrupted_message(args.project, args.name), file=sys.stderr)
        return 130
    row, ck = select_epoch(run)
    print(f"run: {run}\nselected epoch {row.epoch} by held-out mAP50 {row.map50:.4f} "
          f"(mAP50-95 {row.map50_95:.4f}): {ck}")
    print(f"Results: {run / 'results.csv'} (learning curve), {run / 'weights'} (checkpoints), {run / 'args.yaml'}"
          f" (recipe).\nRegister it: cleanup-verify models register {run} --name NAME --eval DATA_YAML")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..config import Config
    from .evaluate import evaluate
    from .registry import resolve_model

    cfg = Config.from_toml(args.config) if args.config else Config()
    conf = cfg.detect.confidence if args.confidence is None else args.confidence
    try:
        info = resolve_model(args.model, args.backend or cfg.detect.backend)
    except (FileNotFoundError, ValueError) as e:
        raise _usage(str(e))
    if not args.data.is_file():
        raise _usage(f"no data.yaml at {args.data}")
    res = evaluate(info, args.data, confidence=conf, imgsz=args.imgsz or cfg.detect.imgsz,
                   iou=cfg.detect.iou, negatives=args.negatives, threads=0, progress=True)  # all cores: nothing stored
    print(res.summary())
    if args.out:
        from ..store import atomic_write_text

        atomic_write_text(args.out, json.dumps(res.to_dict(), indent=2, sort_keys=True) + "\n")
        print(f"Results: {args.out}", file=sys.stderr)
    else:
        print("Results: printed above only (add --out FILE to keep them as JSON)", file=sys.stderr)
    if args.json:
        print(json.dumps(res.to_dict()))
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from .registry import broken_models, default_model_name, list_models, models_dir

    default = default_model_name()
    models = list_models()
    if args.json:
        print(json.dumps([{"name": m.name, "model_id": m.model_id, "path": str(m.path),
                           "backends": {k: str(v) for k, v in sorted(m.files.items())},
                           "default": m.name == default, "card": m.card} for m in models]))
        return 0
    for m in models:
        mark = "*" if m.name == default else " "
        metrics = (m.card or {}).get("metrics", {}) or {}
        summary = ", ".join(f"{k} {v}" for k, v in metrics.items() if isinstance(v, (int, float)))
        print(f"{mark} {m.model_id:40s} backends: {', '.join(sorted(m.files))}; {summary}")
    for name, why in broken_models():
        print(f"! {name:40s} unusable: {why}")
    print(f"(* = default, named in {models_dir() / 'default'})")
    return 0


def cmd_models_export(args: argparse.Namespace) -> int:
    import shlex

    from .convert import export_model

    command = shlex.join(["cleanup-verify", "models", "export", args.name, "--backend", args.backend, "--imgsz",
                          str(args.imgsz), *(["--int8", "--calib-data", str(args.calib_data), "--calib-images",
                                              str(args.calib_images)] if args.int8 else []),
                          *[x for d in args.eval for x in ("--eval", str(d))]])
    try:
        target, entry = export_model(args.name, args.backend, imgsz=args.imgsz, int8=args.int8,
                                     calib_data=args.calib_data, calib_images=args.calib_images,
                                     threads=args.threads, command=command, eval_data=args.eval)
    except (FileNotFoundError, ValueError) as e:
        raise _usage(str(e))
    print(f"exported {args.name} for {args.backend} ({entry['precision']}, {entry['imgsz']} px): {target}")
    for m in entry.get("metrics", []):
        print(f"  {m['data']}: mAP50 {m['map50']:.4f} mAP50-95 {m['map50_95']:.4f} P {m['precision']:.4f} "
              f"R {m['recall']:.4f} FP/clean image {m['fp_per_clean_image']}")
    print(f"Card: {target.parent / 'card.yaml'} (files.{args.backend}); use it with detect.backend = "
          f"\"{args.backend}\" and detect.imgsz = {entry['imgsz']}")
    return 0


def cmd_models_register(args: argparse.Namespace) -> int:
    from ..config import DetectConfig
    from .publish import publish_run
    from .registry import set_default

    if not (args.run / "args.yaml").is_file():
        raise _usage(f"{args.run} is not a training run (no args.yaml)")
    import shlex

    info, card = publish_run(args.run, args.name, eval_data=args.eval, imgsz=args.imgsz, iou=DetectConfig().iou,
                             confidence=args.confidence, threads=args.threads, init=args.init, notes=args.notes,
                             tune_data=args.tune, register_command=shlex.join(
                                 ["cleanup-verify", "models", "register", str(args.run), "--name", args.name,
                                  *[x for d in args.eval for x in ("--eval", str(d))], "--imgsz", str(args.imgsz),
                                  *(["--confidence", str(args.confidence)] if args.confidence is not None else []),
                                  *(["--tune", str(args.tune)] if args.tune else []),
                                  *(["--set-default"] if args.set_default else [])]))
    print(f"registered {info.model_id} ({info.path}, {info.path.stat().st_size / 1e6:.1f} MB)")
    sel = card["selected_epoch"]
    print(f"  selected epoch {sel['epoch']} of {len(card['learning_curve'])} (results.csv numbering, from 1; "
          f"checkpoint {sel['checkpoint']}), operating threshold {card['operating_threshold']['confidence']}")
    for m in card["all_metrics"]:
        print(f"  {m['data']}: mAP50 {m['map50']:.4f} mAP50-95 {m['map50_95']:.4f} P {m['precision']:.4f} "
              f"R {m['recall']:.4f} FP/clean image {m['fp_per_clean_image']}")
    if args.set_default:
        set_default(args.name)
        print(f"models/default -> {args.name}")
    print(f"Card: {info.path.parent / 'card.yaml'}")
    return 0
