"""Benchmark of the photo-loading stage (issue 2, acceptance 6).

For the phone photos in ``../shared/data/perf/phone_photos`` (relative to the repository root), or for
generated 12-megapixel JPEGs with EXIF when that folder is absent or ``--generated`` is given, prints:

* time per photo of the loading stage (``read_photo`` + ``load_photo``: sha256, EXIF, reduced JPEG draft
  decode, resize to the analysis size, orientation) against the baseline measured in the same run:
  Pillow's full decode plus ``ImageOps.exif_transpose`` (file read included in both), interleaved photo
  by photo so that machine load hits both alike; and the ratio baseline / stage;
* the peak memory (RSS high-water mark: /proc VmHWM, else ``resource.getrusage``) of a fresh process that loads ``--n``
  photos (default 500, cycling over the files) one at a time as the pipeline does, next to the RSS of the
  same process right after its imports, and the same for the baseline.

Usage: ``python scripts/bench_load.py [--generated] [--n 500] [--repeats 3]``
"""
from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PHONE_PHOTOS = REPO.parent / "shared" / "data" / "perf" / "phone_photos"


def generated_photos(dest: Path, count: int = 6, size: tuple[int, int] = (4000, 3000)) -> list[Path]:
    """Write ``count`` deterministic 12-megapixel JPEGs (quality 92) with EXIF (orientation 1/6/8, capture
    time, GPS, camera) into ``dest`` and return their paths."""
    import numpy as np
    from PIL import Image, TiffImagePlugin

    R = TiffImagePlugin.IFDRational
    paths = []
    w, h = size
    for i in range(count):
        rng = np.random.default_rng(i)
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        img = np.stack([128 + 90 * np.sin(x / (150 + 20 * i)), 128 + 90 * np.cos(y / 170),
                        (x + y) / (w + h) * 255], -1)
        img += rng.normal(0, 10, img.shape).astype(np.float32)
        for _ in range(40):  # blocks: edges for the encoder, like objects in a photo
            x0, y0 = int(rng.integers(0, w - 200)), int(rng.integers(0, h - 200))
            img[y0:y0 + int(rng.integers(20, 200)), x0:x0 + int(rng.integers(20, 200))] = rng.integers(0, 256, 3)
        ex = Image.Exif()
        ex[0x010F], ex[0x0110] = "Generated", f"Bench {i}"
        ex[0x0112] = (1, 6, 8)[i % 3]
        ex[0x8769] = {0x9003: f"2024:06:0{1 + i % 9} 07:31:05"}
        ex[0x8825] = {1: "N", 2: (R(16, 1), R(27, 1), R(48, 1)), 3: "E", 4: (R(107, 1), R(35, 1), R(24, 1))}
        p = dest / f"generated_{i:02d}.jpg"
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(p, "JPEG", quality=92, exif=ex.tobytes())
        paths.append(p)
    return paths


def stage_once(path: Path, cfg) -> tuple[int, int]:
    """The loading stage on one file; returns the analysis image's (height, width)."""
    from pipeline.load import load_photo, read_photo

    photo = load_photo(read_photo(path, cfg), cfg)
    return photo.image.shape[:2]


def baseline_once(path: Path) -> tuple[int, int]:
    """Pillow's full decode plus ImageOps.exif_transpose; returns the decoded (height, width)."""
    from PIL import Image, ImageOps

    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        out = ImageOps.exif_transpose(im)
        out.load()
        return out.size[1], out.size[0]


def peak_rss_mib() -> float:
    """This process's RSS high-water mark in MiB: ``VmHWM`` from /proc (Linux), else ``ru_maxrss``.

    ``ru_maxrss`` alone is wrong for a child started by fork+exec on Linux: it keeps the parent's high-water
    mark from before the exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1024 / 1024


def child_memory(kind: str, files: list[Path], n: int) -> dict:
    """Run in a fresh process: RSS after imports, then load ``n`` photos one at a time, peak RSS."""
    import numpy  # noqa: F401 - counted in the after-imports RSS, as in the pipeline
    from PIL import Image, ImageOps  # noqa: F401

    from pipeline.config import LoadConfig
    from pipeline.load import _register_heif

    _register_heif()
    cfg = LoadConfig()
    rss_imports = peak_rss_mib()
    t = time.perf_counter()
    for i in range(n):
        f = files[i % len(files)]
        stage_once(f, cfg) if kind == "stage" else baseline_once(f)
    return {"kind": kind, "photos": n, "seconds": time.perf_counter() - t, "rss_after_imports_mib": rss_imports,
            "peak_rss_mib": peak_rss_mib()}


def run_child(kind: str, files: list[Path], n: int) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--n", str(n), "--files", *map(str, files)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generated", action="store_true", help="use generated 12-megapixel JPEGs")
    ap.add_argument("--n", type=int, default=500, help="photos in the peak-memory run (default 500)")
    ap.add_argument("--baseline-n", type=int, default=50,
                    help="photos in the baseline's peak-memory run (default 50; one at a time, so the peak is "
                         "reached early)")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes over the files (default 3)")
    ap.add_argument("--child", choices=("stage", "baseline"), help=argparse.SUPPRESS)
    ap.add_argument("--files", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        print(json.dumps(child_memory(args.child, [Path(f) for f in args.files], args.n)))
        return 0

    from pipeline.config import LoadConfig

    cfg = LoadConfig()
    with tempfile.TemporaryDirectory(prefix="bench_load_") as tmp:
        if PHONE_PHOTOS.is_dir() and not args.generated:
            files, source = sorted(p for p in PHONE_PHOTOS.iterdir() if p.is_file()), str(PHONE_PHOTOS)
        else:
            files, source = generated_photos(Path(tmp)), "generated 4000x3000 JPEGs (q92, EXIF)"
        if not files:
            print(f"no photos in {PHONE_PHOTOS}; use --generated", file=sys.stderr)
            return 2
        from PIL import Image

        sizes = sorted({Image.open(f).size for f in files})
        mb = statistics.mean(f.stat().st_size for f in files) / 1e6
        print(f"photos: {len(files)} from {source}; sizes {sizes}; mean {mb:.2f} MB")

        stage_once(files[0], cfg), baseline_once(files[0])  # warm up imports and the page cache
        t_stage: list[float] = []
        t_base: list[float] = []
        c_stage: list[float] = []
        c_base: list[float] = []
        for _ in range(args.repeats):
            for f in files:  # interleaved: both see the same machine load
                t, c = time.perf_counter(), time.process_time()
                stage_once(f, cfg)
                t_stage.append(time.perf_counter() - t)
                c_stage.append(time.process_time() - c)
                t, c = time.perf_counter(), time.process_time()
                baseline_once(f)
                t_base.append(time.perf_counter() - t)
                c_base.append(time.process_time() - c)

        mem_stage = run_child("stage", files, args.n)
        mem_base = run_child("baseline", files, min(args.n, args.baseline_n))

    def row(name: str, ts: list[float], cs: list[float], mem: dict) -> str:
        return (f"| {name} | {statistics.mean(ts) * 1e3:8.1f} | {statistics.median(ts) * 1e3:8.1f} | "
                f"{statistics.mean(cs) * 1e3:8.1f} | "
                f"{mem['photos']:5d} | {mem['rss_after_imports_mib']:8.0f} | {mem['peak_rss_mib']:8.0f} | "
                f"{mem['peak_rss_mib'] - mem['rss_after_imports_mib']:8.0f} |")

    print(f"\ntimed: {len(t_stage)} loads each (analysis_max_side={cfg.analysis_max_side}); peak memory: a fresh "
          "process loading photos one at a time")
    print("| method | mean wall ms/photo | median wall ms/photo | mean CPU ms/photo | photos (memory run) "
          "| RSS after imports MiB | peak RSS MiB | peak - imports MiB |")
    print("|---|---|---|---|---|---|---|---|")
    print(row("loading stage (read + sha256 + EXIF + draft decode + resize + orient)", t_stage, c_stage, mem_stage))
    print(row("baseline: PIL full decode + ImageOps.exif_transpose", t_base, c_base, mem_base))
    ratio = statistics.mean(t_base) / statistics.mean(t_stage)
    cratio = statistics.mean(c_base) / statistics.mean(c_stage)
    print(f"\nratio baseline / stage, mean wall time per photo: {ratio:.2f}x (stage takes {1 / ratio:.2f} of the "
          f"baseline's time); CPU time: {cratio:.2f}x")
    print(f"stage memory run: {mem_stage['photos']} photos in {mem_stage['seconds']:.1f} s "
          f"({mem_stage['photos'] / mem_stage['seconds']:.1f} photos/s), peak RSS {mem_stage['peak_rss_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
