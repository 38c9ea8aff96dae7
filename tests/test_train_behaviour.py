"""``cleanup-verify train`` as a data scientist meets it, without training: what an interruption says, a rerun
that would overwrite checkpoints, progress lines within and after epochs (after a resume too), best.pt
without the optimizer, the evaluation-only set refused before anything is made, and --help."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from pipeline.cli import build_parser, main
from pipeline.detect import train as train_mod
from pipeline.detect.train import TrainProgress, strip_optimizer_state


def _data_yaml(root: Path, *, train_lines: str = "a.jpg\n", eval_only: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.txt").write_text(train_lines)
    (root / "val.txt").write_text("b.jpg\n")
    y = root / "data.yaml"
    y.write_text(f"path: {root}\ntrain: {root / 'train.txt'}\nval: {root / 'val.txt'}\nnc: 1\nnames: {{0: litter}}\n"
                 f"cleanup_verify: {{definition: {'aquatrash-val' if eval_only else 'litter1s'}, "
                 f"eval_only: {str(eval_only).lower()}}}\n")
    return y


def test_interrupt_names_resume_once_a_checkpoint_exists(tmp_path, monkeypatch, capsys):
    project = tmp_path / "runs"

    def interrupted(*a, **kw):
        (project / "r1" / "weights").mkdir(parents=True)
        (project / "r1" / "weights" / "last.pt").write_bytes(b"ck")
        raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "train_model", interrupted)
    data = _data_yaml(tmp_path / "d")
    assert main(["train", "--data", str(data), "--project", str(project), "--name", "r1"]) == 130
    err = capsys.readouterr().err
    assert "train --resume --project " + str(project) + " --name r1" in err
    assert "rerun the same command" not in err


def test_rerun_without_resume_refuses_to_overwrite_checkpoints(tmp_path, capsys):
    project = tmp_path / "runs"
    (project / "r1" / "weights").mkdir(parents=True)
    (project / "r1" / "weights" / "last.pt").write_bytes(b"ck")
    data = _data_yaml(tmp_path / "d")
    assert main(["train", "--data", str(data), "--project", str(project), "--name", "r1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already has checkpoints" in err and "--resume" in err
    assert (project / "r1" / "weights" / "last.pt").read_bytes() == b"ck"


def test_evaluation_only_data_is_refused_before_anything_is_made(tmp_path, capsys):
    project = tmp_path / "runs"
    data = _data_yaml(tmp_path / "aq", train_lines="", eval_only=True)
    assert main(["train", "--data", str(data), "--project", str(project), "--name", "r"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "evaluation-only" in err and "aquatrash-val" in err
    assert "\x1b[" not in err and not project.exists()
    # an empty training list without the marker is refused the same way
    data = _data_yaml(tmp_path / "empty", train_lines="\n")
    assert main(["train", "--data", str(data), "--project", str(project), "--name", "r"]) == 2
    assert "evaluation-only" in capsys.readouterr().err and not project.exists()


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_progress_within_and_after_epochs():
    lines: list[str] = []
    clock = _Clock()
    p = TrainProgress(lines.append, every_s=30, clock=clock)
    p.epoch_start(0, 3, 100)
    assert lines[-1] == "epoch 1/3: started, 100 batches"
    for _ in range(40):
        clock.t += 1
        p.batch_end()  # 40 s, 40 batches: one line at 30 s
    assert lines[1:] == ["epoch 1/3: batch 30/100, 0.5 min in, about 1.2 min left in this epoch"]
    clock.t += 60
    p.epoch_end(0, 3, 0.5, 0.25, "w")
    assert lines[-1] == ("epoch 1/3: held-out mAP50 0.5000 mAP50-95 0.2500; 1.7 min so far, about 3.3 min left; "
                         "checkpoints in w")


def test_progress_after_a_resume_counts_true_epochs_and_never_negative_time():
    lines: list[str] = []
    clock = _Clock()
    p = TrainProgress(lines.append, clock=clock)
    p.epoch_start(3, 3, 10)  # resumed at epoch 4; --hours re-planned 3 epochs in all
    clock.t += 120
    p.epoch_end(3, 3, 0.6, 0.3, "w")
    assert lines[0] == "epoch 4/4: started, 10 batches"
    assert lines[-1].startswith("epoch 4/4: held-out mAP50 0.6000") and "2.0 min so far, about 0.0 min left" in lines[-1]
    p2 = TrainProgress(lines.append, clock=clock)
    p2.epoch_start(5, 10, 10)  # resumed at epoch 6 of 10: time per epoch from this process's epochs only
    clock.t += 60
    p2.epoch_end(5, 10, 0.6, 0.3, "w")
    assert "1.0 min so far, about 4.0 min left" in lines[-1]


def test_best_checkpoint_loses_its_optimizer_state(tmp_path):
    torch = pytest.importorskip("torch")
    ck = tmp_path / "best.pt"
    torch.save({"epoch": 2, "ema": {"w": torch.ones(3)}, "optimizer": {"state": torch.zeros(1000)}}, ck)
    assert strip_optimizer_state(ck) is True
    d = torch.load(ck, weights_only=False)
    assert d["optimizer"] is None and d["epoch"] == 2 and torch.equal(d["ema"]["w"], torch.ones(3))
    assert strip_optimizer_state(ck) is False  # nothing left to strip
    assert not list(tmp_path.glob(".*tmp"))


def test_only_last_and_best_are_kept_by_default():
    assert train_mod.TrainRecipe().save_period < 1  # ultralytics keeps epoch<N>.pt only when save_period >= 1


def test_train_help_explains_every_option_with_its_default():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    for action in sub._actions:
        if action.dest == "help":
            continue
        text = action.help or ""
        words = re.sub(r"\(default: [^)]*\)", "", text).strip()
        assert re.search(r"\((default: [^)]+|required[^)]*)\)", text), f"{action.option_strings}: no default in {text!r}"
        assert len(words.split()) >= 2, f"{action.option_strings}: no explanation in {text!r}"


def test_missing_data_folder_names_data_root_and_readme_names_the_evaluation_set(tmp_path, capsys):
    assert main(["dataset", "build", "litter1s", "--data-root", str(tmp_path / "nowhere"), "--out",
                 str(tmp_path / "ds")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--data-root" in err and str(tmp_path / "nowhere") in err
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## For data scientists"):readme.index("### Reproducing the detector")]
    assert "aquatrash-val" in section and "evaluation set" in section and "(docs/detector.md)" in section
    assert "--data-root" in section
