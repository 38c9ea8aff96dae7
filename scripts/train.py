#!/usr/bin/env python
"""Train the litter detector offline: same as ``cleanup-verify train`` (see ``--help``).

Example (the shipped default model's run)::

    cleanup-verify dataset build litter1 --out /work/cache/datasets/litter1
    python scripts/train.py --data /work/cache/datasets/litter1/data.yaml \
        --init /work/cache/init/yolov8s-coco-fall.pt --project /work/cache/train --name litter1-v8s \
        --hours 1.55 --threads 2
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
