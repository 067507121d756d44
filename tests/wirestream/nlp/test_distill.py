"""Distillation: the soft loss, the student's training set, and the sweep's choice of model."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import torch

from wirestream.config import models_dir
from wirestream.nlp.distill import unlabelled_targets
from wirestream.nlp.sweep import write_results
from wirestream.nlp.train_classifier import ClassifierTrainingConfig, soft_loss, train_classifier


class _Outputs:
    def __init__(self, logits: torch.Tensor) -> None:
        self.logits = logits


def test_soft_loss_with_one_hot_targets_is_cross_entropy_at_the_marker():
    torch.manual_seed(0)
    logits = torch.randn(4, 7, 3)
    positions = torch.tensor([0, 3, 6, 2])
    gold = torch.tensor([2, 0, 1, 1])
    targets = torch.nn.functional.one_hot(gold, 3).float()
    expected = torch.nn.functional.cross_entropy(logits[torch.arange(4), positions], gold)
    assert torch.isclose(soft_loss(targets, positions)(_Outputs(logits)), expected)


def test_unlabelled_targets_skip_labelled_and_overlapping_spans():
    rows = [{"sentence": "Smith met Jones in Paris.", "from": 0, "to": 5, "mention": "Smith"}]
    spans = {"Smith met Jones in Paris.": [(0, 5), (10, 15), (10, 12), (19, 24)]}
    assert [t["mention"] for t in unlabelled_targets(rows, spans)] == ["Jones", "Paris"]


def test_a_student_trains_on_gold_and_unlabelled_targets_with_the_teachers_probabilities(data_dir, tmp_path):
    extra = tmp_path / "extra.jsonl.gz"
    with gzip.open(extra, "wt", encoding="utf-8") as out:
        for start, end in ((0, 5), (10, 15)):
            out.write(json.dumps({"sentence": "Smith met Jones in Paris.", "from": start, "to": end}) + "\n")
    config = ClassifierTrainingConfig(
        task="stance", data_dir=data_dir / "newsmtsc", output_dir=None, max_examples=14, batch_size=4, max_steps=4,
        evaluate=False, device="cpu", teachers=(str(models_dir() / "wirestream-stance"),),
        unlabelled_targets=str(extra),
    )
    losses = train_classifier(config).losses
    assert len(losses) == 4  # 16 examples: 14 labelled, 2 unlabelled
    assert all(0 < loss < 5 for loss in losses)


def test_the_sweep_keeps_the_model_with_the_best_dev_figure(tmp_path):
    runs = tmp_path / "runs"
    for name in ("t00", "t01"):
        (runs / name).mkdir(parents=True)
        (runs / name / "config.json").write_text(json.dumps({"name": name}))
    rows = [{"name": "t00", "phase": "teacher", "selection": 0.71}, {"name": "t01", "phase": "teacher",
                                                                        "selection": 0.74},
            {"name": "t02", "phase": "teacher", "error": "RuntimeError('out of memory')"}]
    best = write_results(rows, runs, tmp_path)
    assert best is not None and best["name"] == "t01"
    assert json.loads((tmp_path / "best" / "config.json").read_text()) == {"name": "t01"}
    with (tmp_path / "sweep.csv").open() as table:
        assert [r["name"] for r in csv.DictReader(table)] == ["t00", "t01", "t02"]
    assert json.loads(Path(tmp_path / "best" / "sweep.json").read_text())["chosen"]["name"] == "t01"


def test_a_students_card_gives_the_command_that_trains_it_again():
    from wirestream.nlp.card import reproduce

    config = {"epochs": 2, "learning_rate": 6e-05, "batch_size": 16, "max_length": 160, "seed": 13,
              "teachers": ["t1", "t2"], "unlabelled_targets": "extra.jsonl.gz", "distill_weight": 0.5}
    assert reproduce("stance", config) == (
        "wirestream train stance --epochs 2 --learning-rate 6e-05 --batch-size 16 --max-length 160 --seed 13 "
        "--teacher t1 --teacher t2 --unlabelled-targets extra.jsonl.gz --distill-weight 0.5 "
        "--output models/wirestream-stance"
    )


def test_a_continued_models_card_names_the_model_it_started_from_and_its_contrast_data():
    from wirestream.nlp.card import reproduce

    config = {"epochs": 1, "learning_rate": 2e-05, "batch_size": 16, "max_length": 160, "seed": 13,
              "init_from": "previous", "contrast_repeats": 2, "swap_repeats": 2}
    assert reproduce("stance", config) == (
        "wirestream train stance --epochs 1 --learning-rate 2e-05 --batch-size 16 --max-length 160 --seed 13 "
        "--init-from previous --contrast-repeats 2 --swap-repeats 2 --output models/wirestream-stance"
    )


def test_training_continues_from_a_shipped_stance_model_with_role_swapped_examples(data_dir):
    config = ClassifierTrainingConfig(
        task="stance", data_dir=data_dir / "newsmtsc", output_dir=None, max_examples=400, batch_size=8, max_steps=3,
        evaluate=False, device="cpu", init_from=str(models_dir() / "wirestream-stance"), swap_repeats=1,
    )
    losses = train_classifier(config).losses
    assert len(losses) == 3
    assert sum(losses) / len(losses) < 0.7  # a trained model's loss; a fresh head starts near ln 3 = 1.1
