"""The shipped stance and sentiment models, evaluated through the inference layer."""

from __future__ import annotations

import json

import pytest
from safetensors import safe_open
from transformers import AutoModelForSequenceClassification

from tests.conftest import ROOT
from training.card import card_figure
from training.evaluation_sets import classifier_figures, opposite_pairs_both_right
from wirestream.config import models_dir
from wirestream.nlp.classify import POLARITIES, TextClassifier, stance_input

STANCE = models_dir() / "wirestream-stance"
SENTIMENT = models_dir() / "wirestream-sentiment"


@pytest.fixture(scope="module")
def stance() -> TextClassifier:
    return TextClassifier.load(STANCE)


@pytest.mark.parametrize("path", [STANCE, SENTIMENT], ids=lambda p: p.name)
def test_each_model_is_a_float16_checkpoint_that_transformers_loads_alone(path):
    assert (path / "model.safetensors").stat().st_size <= 50 * 1024 * 1024
    with safe_open(path / "model.safetensors", "pt") as tensors:
        assert {str(tensors.get_tensor(name).dtype) for name in tensors.keys()} == {"torch.float16"}  # noqa: SIM118
    model = AutoModelForSequenceClassification.from_pretrained(path)
    assert [model.config.id2label[i] for i in range(3)] == list(POLARITIES)
    assert (path / "README.md").exists() and (path / "training.json").exists()


def test_stance_figures_hold_their_floors_and_match_the_card(stance, data_dir):
    files = [data_dir / "newsmtsc" / "hf" / split / "test.jsonl" for split in ("rw", "mt")]
    figures, keys, _ = classifier_figures("stance", stance, files)
    print({name: round(s.macro_f1, 4) for name, s in figures.items()})
    assert figures["rw"].macro_f1 >= 0.76
    assert figures["mt"].macro_f1 >= 0.72
    for key, value in keys.items():
        assert value == pytest.approx(card_figure(STANCE, key), abs=0.005), key


def test_sentiment_figure_holds_its_floor_and_matches_the_card(data_dir):
    sentiment = TextClassifier.load(SENTIMENT)
    test = data_dir / "sentiment" / "semeval2017_task4a" / "test_2017" / "SemEval2017-task4-test.subtask-A.english.txt"
    figures, keys, _ = classifier_figures("sentiment", sentiment, [test])
    print(figures["test"].report())
    assert figures["test"].macro_recall >= 0.62
    assert keys["test_macro_recall"] == pytest.approx(card_figure(SENTIMENT, "test_macro_recall"), abs=0.005)


KNOWN_GAP = (
    "issue 4 open: the stance model still tends to give every target of a sentence the sentence's tone "
    "(both right in 17.5% of mt-test opposite-polarity pairs; target 50%)"
)


@pytest.mark.xfail(reason=KNOWN_GAP, strict=False)
def test_two_targets_of_opposite_polarity_in_one_sentence_are_told_apart(stance, data_dir):
    rate, pairs = opposite_pairs_both_right(stance, data_dir / "newsmtsc" / "hf" / "mt" / "test.jsonl")
    print(f"{pairs} opposite-polarity target pairs in mt test; both right: {rate:.3f}")
    assert pairs >= 30
    assert rate >= 0.5


@pytest.mark.xfail(reason=KNOWN_GAP, strict=False)
def test_swapping_the_targets_roles_swaps_the_predicted_labels(stance):
    pairs = json.loads((ROOT / "tests" / "data" / "stance_swaps.json").read_text())["pairs"]
    for pair in pairs:
        a, b = pair["targets"]

        def label(sentence: str, target: str) -> str:
            start = sentence.index(target)
            return stance([stance_input(sentence, start, start + len(target))])[0].label

        first = (label(pair["first"], a), label(pair["first"], b))
        second = (label(pair["second"], a), label(pair["second"], b))
        assert first[0] != first[1], f"{pair['first']!r}: both targets {first[0]}"
        assert second == (first[1], first[0]), f"{a}/{b}: {first} then {second}"
