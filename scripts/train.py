#!/usr/bin/env python
"""Train the litter detector offline: same as ``cleanup-verify train`` (see ``--help``).

Example (stage 1 of the shipped default model; every command in models/<name>/card.yaml)::

    cleanup-verify dataset build litter1s            # writes build/datasets/litter1s
    python scripts/train.py --data build/datasets/litter1s/data.yaml --init "$INIT" \
        --project runs/train --name litter1s-v8s --hours 0.75 --threads 2 --imgsz 416 --freeze 10 ...

``INIT``: the initial weights; README.md ("Reproducing the detector") shows the command that finds them.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
