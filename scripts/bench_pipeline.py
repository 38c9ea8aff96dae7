"""Benchmark of a whole run against the detector's own cost, per executor, in one run (docs/scale.md).

Batch: real photos from ../shared/data, one entry per photo: the photo as the before photo and a
camera-moved, re-lit copy as the after photo (a homography of a few percent, JPEG at quality 90, full
size). Sources: perf/phone_photos (3264x2448), a quarter of them upscaled to 4000x3000 (12 MP), every 4th
street video frame and aquatrash train photos; past those 72, other distinct real photos
(:func:`build_batch`). Never ``litter/aquatrash/val``, the evaluation set (:data:`EVALUATION`).

Measured, each in a fresh process (so that peak RSS and start-up are its own), on the same files:

* ``detector``: plain ultralytics ``predict`` with the pipeline's model, size and threshold on each file
  path (ultralytics decodes the full-size file itself), torch on every core (its fastest here), model
  loaded and run once before the clock starts;
* ``serial``, ``local`` (process pool) and ``ray`` (a local Ray with as many CPUs): ``run_batch`` into a
  fresh workspace. Likewise the executor is started and each of its workers has loaded and run its
  detector (:func:`pipeline.detect.process.warm_detector`) before the clock; that start-up (Ray's own start
  included) is timed and reported apart (``executor_startup_s``), and each ratio to the detector is
  given without it (``x_detector``) and with it (``x_detector_with_startup``). Every executor's detector
  runs torch on one thread (``[detect] torch_threads``: results do not depend on the executor);
* ``rerun``: the serial run again on the finished workspace (must decode nothing).

The batch has ``--entries`` entries (:func:`build_batch`: past the first 72 sources, other distinct real photos).

Reported: seconds, seconds per photo, the ratio of each run to the detector, local/serial and ray/local,
peak RSS of the driver and of the largest worker, the 1-minute load average before and after each run.

    python scripts/bench_pipeline.py [--entries 20] [--rounds 1] [--workers 2] [--skip-ray] [--copies] [--json out.json]

``--rounds N`` measures detector, serial, local and ray N times in turn and reports the medians (and each
round's ratios): the detector alone moves by 10-15 % between runs here, the ratio with it.

``--cold`` (issue 19's measure): the same detector, serial, local and ray runs, but each timed from its
process's start to its end, start-up included on both sides (imports of torch and ultralytics, the model
load; for a run also the pipeline's imports and every worker's start and detector load); every run's
export compared (sha256 of JSON Lines and CSV) across executors and rounds; then where the start-up goes,
step by step in a fresh process (:func:`startup`):

    python scripts/bench_pipeline.py --cold --entries 52 --rounds 3 --json cold.json

``--cold --ray-cluster`` adds ``ray-cluster``: a run that joins a Ray already running on this machine
(``--ray-address``, the way an operator runs batches on a cluster: ``ray start --head`` once, then
``cleanup-verify run --executor ray --ray-address auto`` per batch). The benchmark starts that Ray once,
before the first round and outside every clock (2 CPUs, loopback, no dashboard, workers at the driver's
priority, as the executor's own local Ray), and stops it after the last; each run still starts its own Ray
workers (Ray's workers belong to one job) and loads their detectors inside its clock.

Other modes:

* ``--interleave ROUNDS``: only the local pool and Ray, alternately (pool, ray, pool, ray, ...), ROUNDS
  times each on the same batch, each in a fresh process and a fresh workspace, so that the machine's load
  falls on both alike; reports each one's median, min and max, Ray's start-up apart, and ray/pool per
  round and of the medians;
* ``--memory ENTRIES``: one long run with the local pool on a batch of ENTRIES entries built from every
  real photo of ../shared/data (:func:`build_large_batch`: at most 1600 px, four of them 12 MP, the sources
  again mirrored and cropped past the last one); a thread samples the RSS of the driver and of each
  process under it (psutil) and the kernel's peak (VmHWM), with snapshots when 10 %, 50 % and 100 % of the
  photos are committed and at the end (after matching and scoring). ``--malloc-arena-max N`` sets
  MALLOC_ARENA_MAX for the run's processes (to compare).

On a 2-core machine shared with other work the numbers move by 10-20 % between runs (much more under
load); compare ratios measured in the same run only.
"""
from __future__ import annotations

import time

_T0 = time.perf_counter()  # this process's clock from its first line (--cold: the start-up is timed too)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("CLEANUP_VERIFY_DATA", REPO.parent / "shared" / "data"))
EVALUATION = DATA / "litter" / "aquatrash" / "val"  # the evaluation set: never in a benchmark's batch


def _run_api():
    """The run's entry points, imported in this one place: ``make_executor``, ``run_batch``,
    ``warm_detector`` and ``Workspace``."""
    from pipeline.detect.process import warm_detector
    from pipeline.run.executors import make_executor
    from pipeline.run.runner import run_batch
    from pipeline.store import Workspace

    return make_executor, run_batch, warm_detector, Workspace


def _labelled_boxes(src: Path) -> list[tuple[float, float, float, float]]:
    """The source's litter boxes (YOLO labels next to ``images/``: class cx cy w h, fractions); none when
    it has no labels."""
    label = src.parent.parent / "labels" / (src.stem + ".txt")
    boxes = []
    if src.parent.name == "images" and label.is_file():
        for line in label.read_text().splitlines():
            parts = line.split()
            if len(parts) == 5:
                boxes.append(tuple(map(float, parts[1:])))
    return boxes


def _cleaned(img, boxes):
    """``img`` with its litter boxes painted over from their surroundings (OpenCV inpainting): the place
    after a clean-up, as far as a benchmark needs one."""
    import cv2
    import numpy as np

    if not boxes:
        return img
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    for cx, cy, bw, bh in boxes:
        mask[max(0, int((cy - bh / 2) * h)):int((cy + bh / 2) * h) + 1,
             max(0, int((cx - bw / 2) * w)):int((cx + bw / 2) * w) + 1] = 255
    s = min(1.0, 640 / max(h, w))  # inpaint at <= 640 px, pasted back at full size: fast enough to build
    small = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    filled = cv2.resize(cv2.inpaint(small, small_mask, 5, cv2.INPAINT_TELEA), (w, h), interpolation=cv2.INTER_LINEAR)
    out = img.copy()
    out[mask > 0] = filled[mask > 0]
    return out


def _moved(img, rng):
    """A camera-moved (homography of a few percent), re-lit copy of ``img``."""
    import cv2
    import numpy as np

    h, w = img.shape[:2]
    d = 0.03 * min(w, h)
    quad = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    moved = quad + rng.uniform(-d, d, (4, 2)).astype(np.float32)
    after = cv2.warpPerspective(img, cv2.getPerspectiveTransform(quad, moved), (w, h),
                                borderMode=cv2.BORDER_REFLECT)
    return cv2.convertScaleAbs(after, alpha=float(rng.uniform(0.85, 1.15)), beta=float(rng.uniform(-12, 12)))


def _write_entry(dest: Path, i: int, before, after) -> None:
    import cv2

    entry = dest / f"e{i:04d}"
    (entry / "before").mkdir(parents=True)
    (entry / "after").mkdir()
    cv2.imwrite(str(entry / "before" / "b.jpg"), before, [cv2.IMWRITE_JPEG_QUALITY, 92])
    cv2.imwrite(str(entry / "after" / "a.jpg"), after, [cv2.IMWRITE_JPEG_QUALITY, 90])


def build_batch(dest: Path, entries: int, seed: int = 0, cleaned: bool = True) -> int:
    """Entries of before/after pairs from real photos; returns the number of photos written. The first 72
    sources: perf/phone_photos (a quarter of them upscaled to 12 MP), every 4th street video frame and
    aquatrash train photos; past those, other distinct real photos (the rest of aquatrash train,
    trash_collection valid and test, the street scenes), so that a long batch is not made of copies of itself (a contest's photos are
    mostly distinct; copies would make it a dedup benchmark); past those, the sources again, mirrored and
    cropped by 2-8 %. With ``cleaned``, the after photo of a source with litter labels (the aquatrash and
    trash_collection photos) has its labelled litter painted over before the camera move: a clean-up, not a
    re-posted before photo; sources without labels give a moved copy, as every entry did before."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    phone = sorted((DATA / "perf" / "phone_photos").glob("*.jpg"))
    frames = sorted((DATA / "scenes" / "street_video_frames").glob("*.jpg"))[::4]
    train = sorted((DATA / "litter" / "aquatrash" / "train" / "images").glob("*.jpg"))
    train = [train[i] for i in sorted(rng.permutation(len(train))[:72 - len(phone) - len(frames)])]
    sources = [(p, p in phone[: max(1, len(phone) // 4)]) for p in phone]
    sources += [(p, False) for p in frames] + [(p, False) for p in train]
    rng.shuffle(sources)
    sources.sort(key=lambda s: not s[1])  # the 12 MP ones always in
    extra = sorted(p for sub in ("litter/aquatrash/train", "litter/trash_collection/valid",
                                 "litter/trash_collection/test", "scenes/street_pov_litter", "scenes/clean_streets")
                   for p in (DATA / sub).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")
                   and p not in train)
    sources += [(extra[i], False) for i in rng.permutation(len(extra))]
    n = 0
    for i in range(entries):
        lap, k = divmod(i, len(sources))
        src, upscale = sources[k]
        img = cv2.imread(str(src))
        if img is None:  # the odd unreadable source: the last one instead
            img = cv2.imread(str(sources[-1][0]))
        if lap:
            h, w = img.shape[:2]
            c = rng.uniform(0.02, 0.08)
            img = np.ascontiguousarray(cv2.flip(img, 1)[int(c * h): h - int(c * h), int(c * w): w - int(c * w)])
        if upscale:
            img = cv2.resize(img, (4000, 3000), interpolation=cv2.INTER_CUBIC)
        after = _cleaned(img, _labelled_boxes(src)) if cleaned and not lap else img
        _write_entry(dest, i, img, _moved(after, rng))
        n += 2
    return n


def build_large_batch(dest: Path, entries: int, seed: int = 0, max_side: int = 1600, big: int = 4) -> int:
    """A long batch for the memory measurement: every real photo of ../shared/data's litter, scenes and perf
    folders but the evaluation set (about 850), each as an entry of the photo (at most ``max_side`` px) and a camera-moved, re-lit
    copy; past the last source, the sources again, mirrored and cropped by a few percent (so they are new
    photos to every stage; dedup may find them). ``big`` entries are upscaled to 4000x3000 (12 MP)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    sources = sorted(p for sub in ("litter", "scenes", "perf") for p in (DATA / sub).rglob("*")
                     if p.suffix.lower() in (".jpg", ".jpeg", ".png") and EVALUATION not in p.parents)
    order = rng.permutation(len(sources))
    n = 0
    for i in range(entries):
        lap, k = divmod(i, len(sources))
        img = cv2.imread(str(sources[order[k]]))
        if img is None:  # the odd unreadable source: take the next one
            img = cv2.imread(str(sources[order[(k + 1) % len(sources)]]))
        if lap:
            h, w = img.shape[:2]
            c = rng.uniform(0.02, 0.08)
            img = cv2.flip(img, 1)[int(c * h): h - int(c * h), int(c * w): w - int(c * w)]
        h, w = img.shape[:2]
        if i < big:
            img = cv2.resize(img, (4000, 3000), interpolation=cv2.INTER_CUBIC)
        elif max(h, w) > max_side:
            s = max_side / max(h, w)
            img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        _write_entry(dest, i, img, _moved(img, rng))
        n += 2
    return n


def _peak() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"driver_mib": round(own, 1), "largest_child_mib": round(kids, 1)}


def one(kind: str, batch: Path, ws: Path, workers: int) -> dict:
    """One measurement in this process (called in a fresh process by :func:`main`)."""
    from pipeline.config import Config

    cfg = Config()
    photos = sorted(batch.glob("*/*/*.jpg"))
    if kind == "detector":
        from pipeline.detect.registry import resolve_model
        from pipeline.detect.runtime import ultralytics_threads

        ul = ultralytics_threads(0)  # the detector alone at its fastest here: torch on every core
        model = ul.YOLO(str(resolve_model(cfg.detect.model).path), task="detect")
        model.predict(str(photos[0]), imgsz=cfg.detect.imgsz, conf=cfg.detect.confidence, verbose=False)  # warm
        t = time.perf_counter()
        for p in photos:
            model.predict(str(p), imgsz=cfg.detect.imgsz, conf=cfg.detect.confidence, verbose=False)
        return {"seconds": time.perf_counter() - t, "photos": len(photos), **_peak()}
    make_executor, run_batch, _, Workspace = _run_api()
    t0 = time.perf_counter()
    ex = make_executor("ray" if kind == "ray" else ("serial" if kind == "rerun" else kind), workers=workers)
    if kind != "rerun":
        _warm(ex, cfg)
    startup = time.perf_counter() - t0
    with Workspace(ws) as w:
        cpu0 = _tree_cpu()
        t = time.perf_counter()
        s = run_batch(batch, w, cfg, quiet=True, executor=ex)
        took = time.perf_counter() - t
        cpu = {k: v - cpu0.get(k, 0.0) for k, v in _tree_cpu().items()}  # pid -> CPU seconds during the run
    ray_peak = _ray_workers_peak() if kind == "ray" else None  # not our children: ask while they live
    ex.close()  # a pool's workers count as children once they are reaped
    peak = _peak()
    if ray_peak is not None:
        peak["largest_child_mib"] = ray_peak
    return {"seconds": took, "executor_startup_s": round(startup, 2), "photos": s.photos,
            "decoded": s.photos_decoded, "matched": s.photos_matched,
            "cpu_s": round(sum(cpu.values()), 1), "cpu_s_driver": round(cpu.get(os.getpid(), 0.0), 1), **peak}


def _lap(phases: dict[str, float], name: str, since: float) -> float:
    """Record ``phases[name]`` = seconds since ``since``; returns now."""
    now = time.perf_counter()
    phases[name] = round(now - since, 3)
    return now


def cold(kind: str, batch: Path, ws: Path, workers: int) -> dict:
    """One ``--cold`` measurement in this fresh process, its start-up included: every phase from this
    process's first line (:data:`_T0`; the parent adds the interpreter's own start). ``detector``: import
    torch and ultralytics, load the model, ``predict`` each file (ultralytics decodes it; its first call
    sets up). Otherwise a whole run on executor ``kind``: import the pipeline, make the executor (a local
    Ray starts here; a pool's workers start with its first work and each imports torch and loads its
    detector inside the run), ``run_batch``, close; then the export's sha256 (outside the clock)."""
    phases: dict[str, float] = {}
    t = time.perf_counter()
    photos = sorted(batch.glob("*/*/*.jpg"))
    if kind == "detector":
        from pipeline.config import Config
        from pipeline.detect.registry import resolve_model
        from pipeline.detect.runtime import ultralytics_threads

        cfg = Config()
        ul = ultralytics_threads(0)  # the detector alone at its fastest here: torch on every core
        t = _lap(phases, "import_s", t)
        model = ul.YOLO(str(resolve_model(cfg.detect.model).path), task="detect")
        t = _lap(phases, "model_load_s", t)
        for p in photos:
            model.predict(str(p), imgsz=cfg.detect.imgsz, conf=cfg.detect.confidence, verbose=False)
        _lap(phases, "predict_s", t)
        return {"in_process_s": round(time.perf_counter() - _T0, 3), "phases": phases, "photos": len(photos),
                **_peak()}
    import hashlib

    from pipeline import export
    from pipeline.config import Config
    make_executor, run_batch, _, Workspace = _run_api()
    cfg = Config()
    t = _lap(phases, "import_s", t)
    if kind == "ray-cluster":  # join the Ray that cold_sequence keeps running
        # an explicit address never turns Ray's token authentication on by itself (Ray 2.60); the token is
        # the one the kept Ray wrote to ~/.ray/auth_token. That Ray listens on loopback only, so this
        # driver must take the loopback address as its own too, or it waits for a raylet at the machine's.
        os.environ.setdefault("RAY_AUTH_MODE", "token")
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        ex = make_executor("ray", workers=workers, ray_address=os.environ[RAY_ADDRESS_VAR])
    else:
        ex = make_executor(kind, workers=workers)
    t = _lap(phases, "executor_s", t)
    with Workspace(ws) as w:
        s = run_batch(batch, w, cfg, quiet=True, executor=ex)
    t = _lap(phases, "run_s", t)
    ray_peak = _ray_workers_peak() if kind.startswith("ray") else None  # not our children: ask while they live
    ex.close()
    _lap(phases, "close_s", t)
    took = time.perf_counter() - _T0
    peak = _peak()
    if ray_peak is not None:
        peak["largest_child_mib"] = ray_peak
    with Workspace(ws, create=False) as w:
        exports = {"jsonl": export.to_jsonl(w), "csv": export.to_csv(w)}
    return {"in_process_s": round(took, 3), "phases": phases, "photos": s.photos, "decoded": s.photos_decoded,
            **{f"export_{k}_sha256": hashlib.sha256(v.encode()).hexdigest() for k, v in exports.items()}, **peak}


def _pid(_shared: object = None, _item: object = None) -> int:
    return os.getpid()


def startup(workers: int, with_ray: bool) -> dict:
    """Where a run's start-up goes, one step after the other in this fresh process: importing the pipeline
    (the driver's modules), torch, ultralytics; loading the model and its first forward pass; a pool's
    workers starting (spawn, their imports: until each has answered) and then loading their detectors in
    parallel (:func:`pipeline.detect.process.warm_detector`); a local Ray's start and its workers' detectors."""
    phases: dict[str, float] = {"interpreter_to_main_s": round(time.perf_counter() - _T0, 3)}
    t = time.perf_counter()
    from pipeline.config import Config

    make_executor, _, warm_detector, _ = _run_api()  # the driver's modules
    cfg = Config()
    t = _lap(phases, "import_pipeline_s", t)
    import torch  # noqa: F401

    t = _lap(phases, "import_torch_s", t)
    from pipeline.offline import ultralytics

    ultralytics(1)
    t = _lap(phases, "import_ultralytics_s", t)
    from pipeline.detect.infer import load_detector

    det = load_detector(cfg.detect)
    t = _lap(phases, "model_load_s", t)
    import numpy as np

    det.detect_arrays([np.zeros((cfg.detect.imgsz, cfg.detect.imgsz, 3), np.uint8)])
    t = _lap(phases, "first_forward_pass_s", t)
    ex = make_executor("local", workers=workers)
    seen: set[int] = set()
    while len(seen) < workers:  # every worker started: spawned, imported, its initializer run
        seen.update(ex.imap(_pid, range(workers)))
    t = _lap(phases, "pool_spawn_s", t)
    _warm(ex, cfg)
    t = _lap(phases, "pool_workers_load_detector_s", t)
    ex.close()
    t = _lap(phases, "pool_close_s", t)
    if with_ray:
        ray = make_executor("ray", workers=workers)
        t = _lap(phases, "ray_start_s", t)
        _warm(ray, cfg)
        t = _lap(phases, "ray_workers_load_detector_s", t)
        ray.close()
        _lap(phases, "ray_close_s", t)
    return {"phases": phases}


def _fresh_cold(kind: str, batch: Path, ws: Path, workers: int) -> dict:
    """:func:`cold` (or :func:`startup`) in a fresh process, timed from before it starts to after it ends."""
    load = os.getloadavg()[0]
    t = time.perf_counter()
    r = subprocess.run([sys.executable, __file__, "--one", f"cold-{kind}", "--batch", str(batch), "--ws", str(ws),
                        "--workers", str(workers)], capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{r.stderr[-3000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["seconds"] = round(wall, 3)  # the process from its start to its end: start-up included
    out["load_avg_1m_before"] = round(load, 2)
    return out


#: the variable that gives a ``ray-cluster`` run the address of the Ray that ``cold_sequence`` keeps running
RAY_ADDRESS_VAR = "CV_BENCH_RAY_ADDRESS"

_HOLD_RAY = """
import os, sys
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
import ray
ray.init(num_cpus=int(sys.argv[1]), include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
         configure_logging=False, _system_config={"worker_niceness": 0})
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
ray.shutdown()
"""


@contextlib.contextmanager
def running_ray(cpus: int) -> Iterator[str]:
    """A local Ray kept running by a child process for as long as the block lasts; yields its address."""
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # loopback only (pipeline.run.ray_executor)
    p = subprocess.Popen([sys.executable, "-c", _HOLD_RAY, str(cpus)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=env)
    try:
        address = p.stdout.readline().strip()
        if not address:
            raise SystemExit("could not start a Ray to join (see the messages above)")
        yield address
    finally:
        p.stdin.close()
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()


def cold_sequence(batch: Path, tmp: Path, n: int, args: argparse.Namespace) -> dict:
    """``--cold``: detector, serial, local, ray, ``args.rounds`` times in turn, each a fresh process timed
    from its start to its end (imports, model loads, workers' start-up included), then the start-up probe
    (:func:`startup`). The medians, the ratios of the medians and of each round, and whether every run's
    export is the same bytes."""
    import statistics

    kinds = ["detector", "serial", "local"] + ([] if args.skip_ray else ["ray"])
    kinds += ["ray-cluster"] if args.ray_cluster else []
    runs: dict[str, list[dict]] = {k: [] for k in kinds}
    with running_ray(args.workers) if args.ray_cluster else contextlib.nullcontext("") as address:
        os.environ[RAY_ADDRESS_VAR] = address
        for r in range(args.rounds):
            for k in kinds:
                runs[k].append(_fresh_cold(k, batch, tmp / f"ws-cold-{k}-{r}", args.workers))
                shutil.rmtree(tmp / f"ws-cold-{k}-{r}", ignore_errors=True)
                print(f"round {r + 1} {k}: {runs[k][-1]['seconds']:.1f} s", file=sys.stderr)
    res: dict = {"mode": "cold: start-up included on both sides", "rounds": args.rounds}
    for k in kinds:
        ordered = sorted(runs[k], key=lambda x: x["seconds"])
        res[k] = dict(ordered[(len(ordered) - 1) // 2])  # the median run (the lower one of an even count)
        res[k]["seconds"] = round(statistics.median(x["seconds"] for x in runs[k]), 2)
        res[k]["rounds_s"] = [x["seconds"] for x in runs[k]]
        res[k]["s_per_photo"] = round(res[k]["seconds"] / n, 3)
    det = res["detector"]["seconds"]
    for k in kinds[1:]:
        res[k]["x_detector"] = round(res[k]["seconds"] / det, 2)
        res[k]["x_detector_per_round"] = [round(x["seconds"] / d["seconds"], 2)
                                          for x, d in zip(runs[k], runs["detector"])]
    res["local_speedup_vs_serial"] = round(res["serial"]["seconds"] / res["local"]["seconds"], 2)
    for k in ("ray", "ray-cluster"):
        if k in res:
            res[f"{k.replace('-', '_')}_vs_local"] = round(res[k]["seconds"] / res["local"]["seconds"], 2)
            res[k]["vs_local_per_round"] = [round(x["seconds"] / p["seconds"], 2)
                                            for x, p in zip(runs[k], runs["local"])]
    shas = {(x["export_jsonl_sha256"], x["export_csv_sha256"]) for k in kinds[1:] for x in runs[k]}
    res["exports_identical_across_executors_and_rounds"] = len(shas) == 1
    res["startup"] = _fresh_cold("startup" if args.skip_ray else "startup-ray", batch, tmp / "ws-startup",
                                 args.workers)["phases"]
    return res


def _warm(ex, cfg) -> None:
    """Start the executor's workers and load each one's detector (imports, weights, a first forward pass):
    the start-up, timed apart, as the plain detector is loaded before its clock. A local pool's workers are
    known: warm until each has answered. Ray's are not: as many warm tasks as CPUs, twice."""
    warm_detector = _run_api()[2]
    pool = getattr(ex, "pool", None)
    if pool is None:
        for _ in ex.imap(warm_detector, range(2 * ex.workers), cfg.detect):
            pass
        return
    seen: set[int] = set()
    for _ in range(20):
        seen.update(ex.imap(warm_detector, range(ex.workers), cfg.detect))
        if len(seen) >= ex.workers and seen >= set(pool._processes):
            return


def _tree_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of this process and of every process under it (pool workers; a local
    Ray's own processes and workers), by pid."""
    import psutil

    me = psutil.Process()
    out: dict[int, float] = {}
    for proc in [me] + me.children(recursive=True):
        try:
            t = proc.cpu_times()
            out[proc.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


def _ray_workers_peak() -> float:
    best = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if "ray::" in text.split("\n", 1)[0] or "ray::" in (status.parent / "cmdline").read_text(errors="ignore"):
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    best = max(best, int(line.split()[1]) / 1024)
    return round(best, 1)


class _RssSampler:
    """Samples, every ``interval`` s in a thread, the RSS of this process (the driver) and of every process
    under it (pool workers, multiprocessing's resource tracker), and each one's kernel-kept peak (VmHWM);
    records a snapshot when the workspace's committed photos first reach each of ``milestones``."""

    def __init__(self, db: Path, milestones: list[int], interval: float = 0.5):
        import threading

        import psutil

        self.me = psutil.Process()
        self.db, self.milestones, self.interval = db, sorted(milestones), interval
        self.names: dict[int, str] = {self.me.pid: "driver"}
        self.peak_mib: dict[str, float] = {}
        self.max_total_mib = 0.0  # the largest sum of the processes' RSS at one sample
        self.snapshots: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="rss-sampler")

    def _name(self, proc) -> str:
        if proc.pid not in self.names:
            try:
                cmd = " ".join(proc.cmdline())
            except Exception:
                cmd = ""
            if "resource_tracker" in cmd:
                self.names[proc.pid] = "resource_tracker"
            else:
                k = sum(1 for n in self.names.values() if n.startswith("worker"))
                self.names[proc.pid] = f"worker{k + 1}"
        return self.names[proc.pid]

    def _committed(self) -> int:
        import sqlite3

        try:
            c = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=1)
            try:
                return c.execute("SELECT count(*) FROM photo_arrivals").fetchone()[0]
            finally:
                c.close()
        except sqlite3.Error:
            return 0

    @staticmethod
    def _hwm_mib(pid: int) -> float:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def sample(self, label: str | None = None) -> None:
        procs = [self.me] + self.me.children(recursive=True)
        now: dict[str, float] = {}
        for proc in procs:
            try:
                rss = proc.memory_info().rss / 2**20
            except Exception:
                continue
            name = self._name(proc)
            now[name] = round(rss, 1)
            self.peak_mib[name] = round(max(self.peak_mib.get(name, 0.0), rss, self._hwm_mib(proc.pid)), 1)
        self.max_total_mib = round(max(self.max_total_mib, sum(now.values())), 1)
        done = self._committed() if label is None else None
        while label is None and self.milestones and done >= self.milestones[0]:
            self._snap(f"{self.milestones.pop(0)} photos committed", now)
        if label is not None:
            self._snap(label, now)

    def _snap(self, label: str, now: dict[str, float]) -> None:
        self.snapshots.append({"at": label, "t_s": round(time.perf_counter() - self.t0, 1), "rss_mib": now,
                               "peak_so_far_mib": dict(self.peak_mib), "total_rss_mib": round(sum(now.values()), 1)})

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:  # a process ending between listing and reading it
                pass

    def __enter__(self) -> "_RssSampler":
        self.t0 = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def memory(batch: Path, ws: Path, workers: int) -> dict:
    """A whole run with the ``local`` pool, the RSS of every process sampled (called in a fresh process)."""
    from pipeline.config import Config
    make_executor, run_batch, _, Workspace = _run_api()
    photos = len(list(batch.glob("*/*/*.jpg")))
    marks = sorted({max(1, photos // 10), photos // 2, photos})
    cfg = Config()
    ex = make_executor("local", workers=workers)
    with Workspace(ws) as w:
        with _RssSampler(w.db_path, marks) as sampler:
            t = time.perf_counter()
            s = run_batch(batch, w, cfg, quiet=True, executor=ex)
            took = time.perf_counter() - t
            sampler.sample("end of run (matching and scoring done)")
    ex.close()
    workers_peak = [v for k, v in sampler.peak_mib.items() if k.startswith("worker")]
    return {"seconds": round(took, 1), "photos": s.photos, "decoded": s.photos_decoded,
            "matched": s.photos_matched, "peak_mib": sampler.peak_mib,
            "largest_worker_peak_mib": max(workers_peak, default=0.0),
            "sum_of_peaks_mib": round(sum(sampler.peak_mib.values()), 1),
            "max_total_rss_mib": sampler.max_total_mib, "snapshots": sampler.snapshots,
            "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX")}


def _fresh(kind: str, batch: Path, ws: Path, workers: int, env: dict[str, str] | None = None) -> dict:
    load = os.getloadavg()[0]
    r = subprocess.run([sys.executable, __file__, "--one", kind, "--batch", str(batch), "--ws", str(ws),
                        "--workers", str(workers)], capture_output=True, text=True, cwd=REPO,
                       env={**os.environ, **(env or {})})
    if r.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{r.stderr[-3000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["load_avg_1m_before"] = round(load, 2)
    out["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    return out


def _spread(values: list[float]) -> dict[str, float]:
    import statistics

    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2), "runs": [round(v, 2) for v in values]}


def interleaved(batch: Path, tmp: Path, workers: int, rounds: int) -> dict:
    """pool, ray, pool, ray, ... (``rounds`` of each) on the same batch, each in a fresh process and a fresh
    workspace, so that the machine's load falls on both alike; Ray's start-up is reported apart."""
    runs: dict[str, list[dict]] = {"local": [], "ray": []}
    for r in range(rounds):
        for kind in ("local", "ray"):
            res = _fresh(kind, batch, tmp / f"ws-{kind}-{r}", workers)
            shutil.rmtree(tmp / f"ws-{kind}-{r}", ignore_errors=True)
            print(f"round {r + 1} {kind}: {res['seconds']:.1f} s, {res['cpu_s']} CPU s "
                  f"(load {res['load_avg_1m_before']})", file=sys.stderr)
            runs[kind].append(res)
    out: dict = {k: {"seconds": _spread([x["seconds"] for x in v]), "cpu_s": _spread([x["cpu_s"] for x in v]),
                     "load_avg_1m_before": [x["load_avg_1m_before"] for x in v]} for k, v in runs.items()}
    out["ray"]["startup_s"] = _spread([x["executor_startup_s"] for x in runs["ray"]])
    ratios = [ry["seconds"] / lo["seconds"] for lo, ry in zip(runs["local"], runs["ray"])]
    out["ray_vs_local_per_round"] = _spread(ratios)
    out["ray_vs_local_of_medians"] = round(out["ray"]["seconds"]["median"] / out["local"]["seconds"]["median"], 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=20)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--cold", action="store_true",
                    help="start-up included on both sides: each run timed from its process's start to its end, "
                         "exports compared across executors, then where the start-up goes")
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure detector, serial, local and ray this many times in turn (medians)")
    ap.add_argument("--copies", action="store_true",
                    help="every after photo a moved copy of its before photo (no litter painted over)")
    ap.add_argument("--interleave", type=int, metavar="ROUNDS",
                    help="only the local pool and Ray, alternately, ROUNDS times each (medians and spread)")
    ap.add_argument("--memory", type=int, metavar="ENTRIES",
                    help="only a long local-pool run of ENTRIES entries (2 photos each), RSS of every process")
    ap.add_argument("--malloc-arena-max", metavar="N", help="MALLOC_ARENA_MAX for the --memory run's processes")
    ap.add_argument("--ray-cluster", action="store_true",
                    help="--cold: also time runs that join a Ray kept running (started once, outside the clocks)")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--batch", help=argparse.SUPPRESS)
    ap.add_argument("--ws", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        if args.one.startswith("cold-startup"):
            print(json.dumps(startup(args.workers, with_ray=args.one == "cold-startup-ray")))
            return
        if args.one.startswith("cold-"):
            print(json.dumps(cold(args.one[5:], Path(args.batch), Path(args.ws), args.workers)))
            return
        fn = memory if args.one == "memory" else (lambda b, w, n: one(args.one, b, w, n))
        print(json.dumps(fn(Path(args.batch), Path(args.ws), args.workers)))
        return
    if not DATA.is_dir():
        raise SystemExit(f"needs the real photos in {DATA}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    try:
        batch = tmp / "batch"
        entries = args.memory or args.entries
        t = time.perf_counter()
        n = build_large_batch(batch, entries) if args.memory else build_batch(batch, entries, cleaned=not args.copies)
        print(f"batch: {entries} entries, {n} photos ({tmp}), built in {time.perf_counter() - t:.0f} s",
              file=sys.stderr)
        res = {"entries": entries, "photos": n, "workers": args.workers, "cpus": os.cpu_count(),
               "after_photos": "moved copies" if args.copies or args.memory else "litter painted over where labelled",
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        if args.memory:
            env = {"MALLOC_ARENA_MAX": args.malloc_arena_max} if args.malloc_arena_max else None
            res["memory"] = _fresh("memory", batch, tmp / "ws-memory", args.workers, env)
        elif args.interleave:
            res.update(interleaved(batch, tmp, args.workers, args.interleave))
        elif args.cold:
            res.update(cold_sequence(batch, tmp, n, args))
        else:
            res.update(sequence(batch, tmp, n, args))
        print(json.dumps(res, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sequence(batch: Path, tmp: Path, n: int, args: argparse.Namespace) -> dict:
    """detector, serial, local, ray, ``args.rounds`` times in that order (each run in a fresh process and a
    fresh workspace), then the rerun once. Each kind's entry is its median run (by seconds) with
    ``rounds_s`` (every round's seconds); the ratios are of the medians, and ``*_per_round`` gives each
    round's own ratios (measured minutes apart, so the machine's drift falls on both sides alike)."""
    import statistics

    kinds = ["detector", "serial", "local"] + ([] if args.skip_ray else ["ray"])
    runs: dict[str, list[dict]] = {k: [] for k in kinds}
    for r in range(args.rounds):
        for k in kinds:
            runs[k].append(_fresh(k, batch, tmp / f"ws-{k}-{r}", args.workers))
    res: dict = {"rounds": args.rounds}
    for k in kinds:
        ordered = sorted(runs[k], key=lambda x: x["seconds"])
        res[k] = dict(ordered[(len(ordered) - 1) // 2])  # the median run (the lower one of an even count)
        res[k]["seconds"] = statistics.median(x["seconds"] for x in runs[k])
        res[k]["rounds_s"] = [round(x["seconds"], 2) for x in runs[k]]
    res["rerun"] = _fresh("rerun", batch, tmp / "ws-serial-0", args.workers)
    det = res["detector"]["seconds"]
    for k in ("serial", "local", "ray", "rerun"):
        if k in res:
            res[k]["x_detector"] = round(res[k]["seconds"] / det, 2)
            res[k]["s_per_photo"] = round(res[k]["seconds"] / n, 3)
            if k != "rerun":
                start = statistics.median(x["executor_startup_s"] for x in runs[k])
                res[k]["executor_startup_s"] = round(start, 2)
                res[k]["x_detector_with_startup"] = round((res[k]["seconds"] + start) / det, 2)
                res[k]["x_detector_per_round"] = [round(x["seconds"] / d["seconds"], 2)
                                                  for x, d in zip(runs[k], runs["detector"])]
    res["detector"]["s_per_photo"] = round(det / n, 3)
    res["local_speedup_vs_serial"] = round(res["serial"]["seconds"] / res["local"]["seconds"], 2)
    res["local_speedup_vs_serial_per_round"] = [round(s["seconds"] / lo["seconds"], 2)
                                                for s, lo in zip(runs["serial"], runs["local"])]
    res["local_speedup_vs_serial_with_startup"] = round(
        (res["serial"]["seconds"] + res["serial"]["executor_startup_s"])
        / (res["local"]["seconds"] + res["local"]["executor_startup_s"]), 2)
    if "ray" in res:
        res["ray_vs_local"] = round(res["ray"]["seconds"] / res["local"]["seconds"], 2)
        res["ray_vs_local_per_round"] = [round(ry["seconds"] / lo["seconds"], 2)
                                         for ry, lo in zip(runs["ray"], runs["local"])]
    return res


if __name__ == "__main__":
    main()
