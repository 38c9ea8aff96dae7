"""Dataset build checks, one epoch of training on a tiny generated dataset (offline, from scratch),
evaluation of the result, and the ``evaluate --json`` last-line contract."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from pipeline.cli import main
from pipeline.detect.datasets import build_dataset, load_definition, read_yolo_labels
from pipeline.detect.evaluate import match_counts


def _draw(path: Path, seed: int, n_boxes: int, size: int = 96) -> list[str]:
    """A noisy image with ``n_boxes`` bright rectangles; returns their YOLO label lines (class = i % 2)."""
    rng = np.random.default_rng(seed)
    img = (rng.random((size, size, 3)) * 90).astype(np.uint8)
    lines = []
    for i in range(n_boxes):
        w, h = rng.integers(16, 36, 2)
        x, y = rng.integers(0, size - w), rng.integers(0, size - h)
        img[y:y + h, x:x + w] = (230, 200 - 100 * (i % 2), 40)
        lines.append(f"{i % 2} {(x + w / 2) / size:.5f} {(y + h / 2) / size:.5f} {w / size:.5f} {h / size:.5f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, quality=95)
    return lines


def _make_root(root: Path, n: int = 16) -> None:
    for i in range(n):
        lines = _draw(root / "src" / "images" / f"im{i:02d}.jpg", i, 1 + i % 3)
        (root / "src" / "labels").mkdir(parents=True, exist_ok=True)
        (root / "src" / "labels" / f"im{i:02d}.txt").write_text("\n".join(lines) + "\n")
    _draw(root / "clean" / "c0.jpg", 100, 0)
    _draw(root / "clean" / "c1.jpg", 101, 0)
    _draw(root / "heldout" / "h0.jpg", 102, 0)


def _definition(root: Path, **extra) -> Path:
    d = {"name": "tiny", "seed": 0, "classes": "single", "materials": ["a", "b"],
         "sources": [{"name": "src", "images": "src/images", "labels": "src/labels",
                      "class_names": ["red", "yellow"], "material_map": ["a", "b"], "val_fraction": 0.3,
                      "repeat": 2}],
         "backgrounds": [{"images": "clean"}], "holdout_negatives": [{"images": "heldout"}], **extra}
    p = root / "tiny.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


def test_read_labels_reports_bad_lines(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.1 0.1\n0 0.95 0.5 0.3 0.2\n0 0.5\n1 0.0 0.5 0.004 0.2\n")
    rows, problems = read_yolo_labels(f, 2)
    assert len(rows) == 2  # the good box and the slightly overhanging one, clipped
    assert rows[1][1] - rows[1][3] / 2 >= 0
    assert [p.line for p in problems] == [2, 3, 4]


def test_build_splits_groups_and_checks_leakage(tmp_path):
    root = tmp_path / "data"
    _make_root(root)
    # a near copy (re-encoded) of im00 must land on the same side as im00
    Image.open(root / "src/images/im00.jpg").save(root / "src/images/im00copy.jpg", quality=70)
    (root / "src/labels/im00copy.txt").write_text((root / "src/labels/im00.txt").read_text())
    (root / "src/labels/im03.txt").write_text("5 0.5 0.5 0.1 0.1\n")  # bad class id: dropped, reported
    rep = build_dataset(load_definition(str(_definition(root))), tmp_path / "out", root)
    assert rep.ok and not rep.leaks
    assert [p.path.endswith("im03.txt") for p in rep.label_problems] == [True]
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())["items"]
    split = {Path(it["path"]).name: it["split"] for it in man}
    assert split["im00.jpg"] == split["im00copy.jpg"]
    assert rep.counts["val"] > 0 and rep.counts["train"] > 0
    n_train_src = sum(1 for it in man if it["split"] == "train" and it["source"] == "src")
    assert rep.counts["train_with_repeats"] == 2 * n_train_src + 2  # repeat 2, plus 2 backgrounds
    labels = list((tmp_path / "out" / "labels" / "train").glob("*.txt"))
    assert labels and all(ln.split()[0] == "0" for f in labels for ln in f.read_text().splitlines())
    assert all((tmp_path / "out" / "images" / "train").iterdir().__next__().is_symlink() for _ in [0])
    data = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())
    assert data["names"] == {0: "litter"}
    assert Path(data["negatives"]).read_text().strip().endswith("h0.jpg")
    # the same build twice gives the same split (deterministic)
    build_dataset(load_definition(str(_definition(root))), tmp_path / "out2", root)
    man2 = json.loads((tmp_path / "out2" / "manifest.json").read_text())["items"]
    assert {it["path"]: it["split"] for it in man2} == {it["path"]: it["split"] for it in man}


def test_build_material_classes_and_never_near(tmp_path):
    root = tmp_path / "data"
    _make_root(root)
    (root / "final").mkdir()
    Image.open(root / "src/images/im05.jpg").save(root / "final" / "f.jpg", quality=80)
    rep = build_dataset(load_definition(str(_definition(root, classes="materials", never_near=["final"]))),
                        tmp_path / "out", root)
    assert any("im05.jpg" in s and "never_near" in s for s in rep.skipped)
    data = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())
    assert data["names"] == {0: "a", 1: "b"}
    classes = {ln.split()[0] for f in (tmp_path / "out" / "labels").rglob("*.txt") for ln in f.read_text().splitlines()}
    assert classes == {"0", "1"}


def test_match_counts():
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]])
    pred = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]])
    assert match_counts(pred, np.array([0.9, 0.8, 0.7]), np.zeros(3, int), gt, np.zeros(2, int)) == (1, 2, 1)
    assert match_counts(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), gt, np.zeros(2, int)) == (0, 0, 2)


@pytest.mark.timeout(600)
@pytest.mark.slow
def test_train_one_epoch_then_evaluate(tmp_path, capsys, monkeypatch):
    root = tmp_path / "data"
    _make_root(root)
    out = tmp_path / "ds"
    assert main(["dataset", "build", str(_definition(root)), "--out", str(out), "--data-root", str(root)]) == 0
    code = main(["train", "--data", str(out / "data.yaml"), "--model", "yolov8n.yaml", "--imgsz", "64",
                 "--epochs", "1", "--batch", "4", "--nbs", "4", "--workers", "0", "--cache", "false",
                 "--freeze", "0", "--save-period", "-1", "--plots", "false", "--threads", "2",
                 "--project", str(tmp_path / "runs"), "--name", "tiny"])
    assert code == 0
    weights = tmp_path / "runs" / "tiny" / "weights" / "last.pt"
    assert weights.is_file()
    cap = capsys.readouterr()
    assert "selected epoch 1" in cap.out
    assert re.search(r"^epoch 1/1: held-out mAP50 [\d.]+ mAP50-95 [\d.]+; [\d.]+ min so far, about 0.0 min left",
                     cap.err, re.M)  # progress per epoch
    assert re.search(r"^epoch 1/1: started, \d+ batches$", cap.err, re.M)  # and when one starts
    import torch

    best = torch.load(weights.parent / "best.pt", map_location="cpu", weights_only=False)
    assert best.get("optimizer") is None  # only last.pt keeps what a resume needs
    assert sorted(f.name for f in weights.parent.glob("*.pt")) == ["best.pt", "last.pt"]
    assert f"Results: {tmp_path / 'runs' / 'tiny' / 'results.csv'}" in cap.out and "models register" in cap.out
    capsys.readouterr()
    code = main(["evaluate", "--model", str(weights), "--data", str(out / "data.yaml"), "--imgsz", "64",
                 "--confidence", "0.01", "--json"])
    assert code == 0
    cap = capsys.readouterr()
    lines = cap.out.strip().splitlines()
    res = json.loads(lines[-1])
    assert "evaluate 2/3: precision and recall" in cap.err and "Results: printed above only" in cap.err
    assert {"map50", "map50_95", "precision", "recall"} <= set(res)
    assert 0.0 <= res["map50_95"] <= res["map50"] <= 1.0
    assert res["model_id"].startswith("last@")
    assert res["boxes"] > 0 and res["clean_images"] == 1
    # register the run: stripped weights, a card with curve and metrics, default pointer
    monkeypatch.setenv("CLEANUP_VERIFY_MODELS", str(tmp_path / "models"))
    (tmp_path / "models").mkdir()
    assert main(["models", "register", str(tmp_path / "runs" / "tiny"), "--name", "tiny1", "--eval",
                 str(out / "data.yaml"), "--imgsz", "64", "--set-default", "--threads", "2"]) == 0
    from pipeline.detect.registry import resolve_model

    out = capsys.readouterr().out
    assert "selected epoch 1 of 1 (results.csv numbering, from 1; checkpoint weights/best.pt)" in out
    info = resolve_model("default")
    assert info.name == "tiny1"
    card_text = (info.path.parent / "card.yaml").read_text()
    assert str(tmp_path) not in card_text and "/tmp" not in card_text  # no machine paths in the card
    assert info.card["commands"][-1].startswith("cleanup-verify models register ")
    assert any(c.startswith("cleanup-verify train --data ") and "--imgsz 64" in c for c in info.card["commands"])
    import torch

    ck = torch.load(info.path, map_location="cpu", weights_only=False)
    assert ck.get("optimizer") is None and next(ck["model"].parameters()).dtype == torch.float16
    assert info.card["selected_epoch"]["epoch"] == 1 and len(info.card["learning_curve"]) == 1
    assert set(info.card["metrics"]) >= {"map50", "map50_95", "precision", "recall"}


def _curve(run: Path, rows: list[tuple[int, float, float]]) -> None:
    run.mkdir(parents=True)
    (run / "weights").mkdir()
    lines = ["epoch,time,train/box_loss,train/cls_loss,metrics/precision(B),metrics/recall(B),metrics/mAP50(B),"
             "metrics/mAP50-95(B)"]
    lines += [f"{e},{60 * e},1.0,1.0,0.5,0.5,{m50},{m5095}" for e, m50, m5095 in rows]
    (run / "results.csv").write_text("\n".join(lines) + "\n")


def test_select_epoch_names_the_epoch_of_the_checkpoint_it_returns(tmp_path):
    from pipeline.detect.train import select_epoch

    run = tmp_path / "run"
    _curve(run, [(1, 0.30, 0.10), (2, 0.60, 0.20), (3, 0.55, 0.25)])  # best mAP50: 2; best mAP50-95: 3
    (run / "weights" / "best.pt").write_bytes(b"not a checkpoint")
    row, ck = select_epoch(run)  # no epoch files: best.pt holds ultralytics' best fitness (mAP50-95) epoch
    assert (row.epoch, ck.name) == (3, "best.pt")
    (run / "weights" / "epoch1.pt").write_bytes(b"x")  # epoch 2 (files count from 0)
    row, ck = select_epoch(run)
    assert (row.epoch, ck.name) == (2, "epoch1.pt")


def test_select_epoch_with_a_tuning_split_takes_the_best_mean_of_both_map50s(tmp_path):
    from pipeline.detect.train import epoch_checkpoints, select_epoch

    run = tmp_path / "run"
    _curve(run, [(1, 0.30, 0.10), (2, 0.60, 0.20), (3, 0.55, 0.25), (4, 0.50, 0.20)])
    for e in (1, 2, 3, 4):
        (run / "weights" / f"epoch{e - 1}.pt").write_bytes(b"x")
    (run / "weights" / "epochs.pt").write_bytes(b"not an epoch file")
    assert list(epoch_checkpoints(run)) == [1, 2, 3, 4]
    assert select_epoch(run)[0].epoch == 2  # close-ups alone
    row, ck = select_epoch(run, {1: 0.9, 2: 0.20, 3: 0.40, 4: 0.45})  # means .60 .40 .475 .475
    assert (row.epoch, ck.name) == (1, "epoch0.pt")
    row, _ = select_epoch(run, {2: 0.20, 3: 0.40, 4: 0.45})  # tie .475: the better mAP50-95 (epoch 3)
    assert row.epoch == 3
    (run / "weights" / "epoch2.pt").unlink()  # epoch 3's checkpoint gone: the next best that exists
    assert select_epoch(run, {2: 0.20, 3: 0.40, 4: 0.45})[0].epoch == 4


def test_card_paths_are_relative(tmp_path, monkeypatch):
    from pipeline.detect import datasets
    from pipeline.detect.publish import card_path, scrub_paths

    monkeypatch.setattr(datasets, "project_root", lambda: tmp_path / "proj")
    monkeypatch.setenv("CLEANUP_VERIFY_DATA", str(tmp_path / "shared" / "data"))
    assert card_path(tmp_path / "proj" / "build" / "datasets" / "x" / "data.yaml") == "build/datasets/x/data.yaml"
    assert card_path(tmp_path / "shared" / "data" / "aquatrash" / "a.jpg") == "../shared/data/aquatrash/a.jpg"
    assert card_path("/somewhere/else/cache/d/data.yaml") == "<outside the project>/d/data.yaml"
    assert card_path("yolov8s.yaml") == "yolov8s.yaml"
    assert scrub_paths(f"epoch 4 of run ({tmp_path}/proj/runs/train/a/weights/epoch3.pt), from x") == \
        "epoch 4 of run (runs/train/a/weights/epoch3.pt), from x"


def test_committed_model_cards_hold_no_absolute_paths():
    root = Path(__file__).resolve().parents[1] / "models"
    for card in root.glob("*/card.yaml"):
        text = card.read_text(encoding="utf-8")
        assert not re.search(r"(?<![\w.<])/(work|home|root|tmp|usr|opt|mnt|var|Users)/", text), card
        data = yaml.safe_load(text)
        if isinstance(data.get("recipe"), dict):  # trained models say how to rebuild them
            assert any(c.startswith("cleanup-verify train ") for c in data["commands"]), card
