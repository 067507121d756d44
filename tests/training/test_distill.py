"""Distillation: the soft loss, the student's training set, and the sweep's choice of model."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
import torch

from training import distill
from training.conll import Document
from training.distill import (
    conll_targets,
    ensemble_probabilities,
    teacher_marker_states,
    unlabelled_targets,
)
from training.sweep import write_results
from training.train_classifier import ClassifierTrainingConfig, soft_loss, train_classifier
from wirestream.config import models_dir
from wirestream.nlp.classify import TextClassifier, stance_input


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


def test_conll_targets_are_every_entity_of_prose_sentences_at_their_place_in_the_detokenized_text():
    prose = [("The", "O"), ("U.S.", "B-LOC"), ("and", "O"), ("Acme", "B-ORG"), ("Corp", "I-ORG"), ("'s", "O"),
             ("chief", "O"), (",", "O"), ("John", "B-PER"), ("Smith", "I-PER"), (",", "O"), ("met", "O"),
             ("briefly", "O"), ("in", "O"), ("Bonn", "B-LOC"), ("on", "O"), ("Friday", "O"), (".", "O")]
    table = [("Germany", "B-LOC"), ("3", "O"), ("Italy", "B-LOC"), ("1", "O")] * 4
    words = ("said", "the", "talks", "would", "go", "on", "next", "week", "in", "the", "capital")
    lone = [("Smith", "B-PER"), *[(word, "O") for word in words]]  # prose, but only one target
    targets = conll_targets([Document([prose, table, lone])])
    text = "The U.S. and Acme Corp's chief, John Smith, met briefly in Bonn on Friday."
    assert {t["sentence"] for t in targets} == {text}
    assert [t["mention"] for t in targets] == ["U.S.", "Acme Corp", "John Smith", "Bonn"]
    assert all(t["sentence"][t["from"]:t["to"]] == t["mention"] for t in targets)


def test_the_teachers_probabilities_are_read_back_from_the_cache_until_the_teacher_changes(tmp_path, monkeypatch):
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (teacher / name).write_bytes((models_dir() / "wirestream-stance" / name).read_bytes())
    inputs = [stance_input("Smith praised Acme.", 0, 5), stance_input("Smith praised Acme.", 14, 18)]
    first = ensemble_probabilities([str(teacher)], inputs, "cpu", cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 1

    def no_model(*args, **kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(distill.TextClassifier, "load", no_model)
    assert torch.equal(ensemble_probabilities([str(teacher)], inputs, "cpu", cache_dir=tmp_path / "cache"), first)
    with (teacher / "model.safetensors").open("ab") as weights:
        weights.write(b" ")  # a retrained teacher: other weights, so the cache must not answer
    with pytest.raises(AssertionError, match="the cache should have answered"):
        ensemble_probabilities([str(teacher)], inputs, "cpu", cache_dir=tmp_path / "cache")


def test_a_student_trains_on_gold_and_unlabelled_targets_with_the_teachers_probabilities(data_dir, tmp_path):
    extra = tmp_path / "extra.jsonl.gz"
    with gzip.open(extra, "wt", encoding="utf-8") as out:
        for start, end in ((0, 5), (10, 15)):
            out.write(json.dumps({"sentence": "Smith met Jones in Paris.", "from": start, "to": end}) + "\n")
    config = ClassifierTrainingConfig(
        task="stance", data_dir=data_dir / "newsmtsc", output_dir=None, max_examples=14, batch_size=4, max_steps=4,
        evaluate=False, device="cpu", teachers=(str(models_dir() / "wirestream-stance"),),
        unlabelled_targets=str(extra), teacher_cache=str(tmp_path / "cache"),
    )
    losses = train_classifier(config).losses
    assert len(losses) == 4  # 16 examples: 14 labelled, 2 unlabelled
    assert all(0 < loss < 5 for loss in losses)


def test_marker_states_are_what_the_stance_head_reads():
    classifier = TextClassifier.load(models_dir() / "wirestream-stance")
    inputs = [stance_input("Smith praised Acme, which sued him.", 0, 5),
              stance_input("Smith praised Acme, which sued him.", 14, 18), stance_input("Acme fell.", 0, 4)]
    states = classifier.marker_states(inputs, [0, 6])
    assert states.shape == (3, 2, classifier.model.config.hidden_size)
    with torch.inference_mode():  # the head on the last layer's marker state gives the model's probabilities
        probabilities = torch.softmax(classifier.model.classifier(states[:, 1]), dim=-1)
    assert torch.allclose(probabilities, classifier.probabilities(inputs), atol=1e-5)
    assert not torch.allclose(states[0], states[1])  # each target its own state


def test_the_teachers_marker_states_are_cached_per_layer_choice(tmp_path):
    inputs = [stance_input("Smith praised Acme.", 0, 5), stance_input("Smith praised Acme.", 14, 18)]
    teacher, cache = str(models_dir() / "wirestream-stance"), tmp_path / "cache"
    first = teacher_marker_states(teacher, inputs, [2, 6], "cpu", max_length=160, cache_dir=cache)
    assert first.dtype == torch.float16 and first.shape == (2, 2, 384)
    assert torch.equal(teacher_marker_states(teacher, inputs, [2, 6], "cpu", max_length=160, cache_dir=cache), first)
    teacher_marker_states(teacher, inputs, [4, 6], "cpu", max_length=160, cache_dir=cache)
    assert len(list(cache.glob("*.pt"))) == 2


def _student(data_dir: Path, tmp_path: Path, **options) -> ClassifierTrainingConfig:
    """A few steps of a stance student of the shipped model, on CPU, with its own teacher cache."""
    return ClassifierTrainingConfig(
        task="stance", data_dir=data_dir / "newsmtsc", output_dir=tmp_path / "student", batch_size=4,
        evaluate=False, device="cpu", teachers=(str(models_dir() / "wirestream-stance"),),
        teacher_cache=str(tmp_path / "cache"), **options,
    )


def test_a_hinted_student_trains_to_match_its_teachers_marker_states(data_dir, tmp_path):
    config = _student(data_dir, tmp_path, max_examples=12, max_steps=3, hint_weight=1.0)
    teacher = config.teachers[0]
    losses = train_classifier(config).losses
    assert len(losses) == 3
    assert all(1.0 < loss < 10 for loss in losses)  # a fresh student's states are far from the teacher's
    saved = TextClassifier.load(tmp_path / "student")  # saved without the hint maps, as a plain stance model
    assert saved.labels == ["negative", "neutral", "positive"]
    from safetensors.torch import load_file

    assert not [key for key in load_file(tmp_path / "student" / "model.safetensors") if "projection" in key]
    with pytest.raises(ValueError, match="exactly one teacher"):
        train_classifier(ClassifierTrainingConfig(**{**config.__dict__, "teachers": (teacher, teacher)}))


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
    from training.card import reproduce

    config = {"epochs": 2, "learning_rate": 6e-05, "batch_size": 16, "max_length": 160, "seed": 13,
              "teachers": ["t1", "t2"], "unlabelled_targets": "extra.jsonl.gz", "distill_weight": 0.5}
    assert reproduce("stance", config) == (
        "wirestream-training train stance --epochs 2 --learning-rate 6e-05 --batch-size 16 --max-length 160 --seed 13 "
        "--teacher t1 --teacher t2 --unlabelled-targets extra.jsonl.gz --distill-weight 0.5 "
        "--output models/wirestream-stance"
    )
    assert reproduce("stance", {**config, "teachers": ["t1"], "hint_weight": 1.0}).endswith(
        "--distill-weight 0.5 --hint-weight 1.0 --output models/wirestream-stance")


def test_a_continued_models_card_names_the_model_it_started_from_and_its_contrast_data():
    from training.card import reproduce

    config = {"epochs": 1, "learning_rate": 2e-05, "batch_size": 16, "max_length": 160, "seed": 13,
              "init_from": "previous", "contrast_repeats": 2, "swap_repeats": 2}
    assert reproduce("stance", config) == (
        "wirestream-training train stance --epochs 1 --learning-rate 2e-05 --batch-size 16 --max-length 160 --seed 13 "
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


def test_sentence_batches_keep_the_targets_of_one_sentence_together():
    import random

    from training.train_classifier import sentence_batches

    sentences = [f"s{i // 3}" for i in range(90)] + [f"t{i}" for i in range(50)]  # 30 sentences of 3, 50 of 1
    lengths = [10 + (i * 7) % 40 for i in range(len(sentences))]
    batches = sentence_batches(lengths, sentences, batch_size=8, rng=random.Random(1))
    assert sorted(i for b in batches for i in b) == list(range(len(sentences)))
    assert all(len(b) <= 8 for b in batches)
    home = {i: n for n, b in enumerate(batches) for i in b}
    assert all(home[i] == home[i - i % 3] for i in range(90))


def test_the_pair_loss_asks_two_targets_of_a_sentence_to_differ_as_the_teacher_says():
    from training.train_classifier import pair_loss

    teacher = torch.tensor([[0.8, 0.15, 0.05], [0.05, 0.15, 0.8], [0.3, 0.4, 0.3]])
    sentences = ["Voters blamed Dole and thanked Eve.", "Voters blamed Dole and thanked Eve.", "Other."]
    positions = torch.tensor([1, 1, 1])
    as_the_teacher = torch.zeros(3, 2, 3)
    as_the_teacher[:, 1] = teacher.log() + torch.tensor([[0.5], [-1.0], [2.0]])  # any shift per target
    same_tone = torch.zeros(3, 2, 3)
    same_tone[:, 1] = teacher[0].log()  # both targets negative, the sentence's tone
    loss = pair_loss(teacher, sentences, [0, 1, 2], positions, weight=1.0)
    assert loss(_Outputs(as_the_teacher)) < 1e-6
    assert loss(_Outputs(same_tone)) > 1.0
    assert pair_loss(teacher, sentences, [0, 2], positions[:2], weight=1.0)(_Outputs(same_tone[:2])) == 0


def test_a_student_with_the_pair_loss_trains_for_every_planned_batch(data_dir, tmp_path):
    result = train_classifier(_student(data_dir, tmp_path, max_examples=24, epochs=1, pair_weight=0.1))
    assert len(result.losses) >= 6  # a sentence's targets share a batch, so some batches hold fewer than 4
    assert all(0 < loss < 10 for loss in result.losses)
