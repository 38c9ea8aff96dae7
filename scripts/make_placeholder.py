#!/usr/bin/env python
"""Write models/placeholder-yolov8n: an UNTRAINED YOLOv8n (seeded random init, one class 'litter').

It exists so the pipeline runs end to end before a trained model is registered; it detects nothing
meaningful. Usage: python scripts/make_placeholder.py
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.detect.registry import models_dir, save_card  # noqa: E402
from pipeline.detect.weights import save_untrained  # noqa: E402

CARD = {
    "name": "placeholder-yolov8n",
    "status": "UNTRAINED placeholder: random weights, detects nothing meaningful; do not judge with it",
    "architecture": "YOLOv8n (ultralytics yolov8n.yaml), 1 class",
    "classes": ["litter"],
    "init_weights": "none: torch.manual_seed(0) random initialisation",
    "data": "none",
    "recipe": "none (not trained); made by scripts/make_placeholder.py",
    "metrics": {},
    "licence": "AGPL-3.0 (ultralytics architecture)",
}

if __name__ == "__main__":
    folder = models_dir() / "placeholder-yolov8n"
    save_untrained("yolov8n.yaml", ("litter",), folder / "weights.pt", seed=0)
    import datetime
    save_card(folder, {**CARD, "date": datetime.date.today().isoformat()})
    print(f"wrote {folder}")
