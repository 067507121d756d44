"""Batched, pipelined classification gives what the bare model gives on each input alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from services.sentiment import crop, sentences_of
from tests.conftest import SEEDS
from wirestream.config import models_dir
from wirestream.nlp import precision
from wirestream.nlp.classify import POLARITIES, TextClassifier, marker_positions, rounded, stance_input
from wirestream.wirefile import read_path


def one_at_a_time(classifier: TextClassifier, inputs: list) -> torch.Tensor:
    """The model on each input alone, no padding, no batching: the reference."""
    rows = []
    with torch.inference_mode():
        for item in inputs:
            pair = item if isinstance(item, tuple) else (item, None)
            encoded = classifier.tokenizer(*pair, truncation=True, max_length=classifier.max_length,
                                           return_tensors="pt")
            logits = classifier.model(**encoded).logits
            if classifier.marker is not None:
                logits = logits[0, marker_positions(encoded["input_ids"], classifier.marker)]
            rows.append(torch.softmax(logits.float(), dim=-1).reshape(-1))
    return torch.stack(rows)


def seed_sentences() -> list[str]:
    return [s.text for article in read_path(SEEDS) for s in sentences_of(article)]


def test_tone_probabilities_in_small_batches_are_the_models_on_each_sentence_alone():
    tone = TextClassifier.load(models_dir() / "wirestream-sentiment", max_tokens=300)  # many calls in flight
    sentences = [*seed_sentences(), " ".join(seed_sentences())]  # the last one is truncated
    assert len(tone.tokenizer(sentences[-1])["input_ids"]) > tone.max_length
    assert torch.allclose(tone.probabilities(sentences), one_at_a_time(tone, sentences), atol=1e-4)
    predictions = tone(sentences)
    assert [p.label for p in predictions] == [tone.labels[i] for i in one_at_a_time(tone, sentences).argmax(1)]


def test_stance_probabilities_read_at_the_marker_are_the_models_on_each_pair_alone():
    stance = TextClassifier.load(models_dir() / "wirestream-stance", max_tokens=300)
    pairs = []
    for sentence in seed_sentences():
        for word in {w for w in sentence.split() if w[:1].isupper() and w.isalpha()}:
            start = sentence.index(word)
            pairs.append(stance_input(*crop(sentence, start, start + len(word))))
    everything = " ".join(seed_sentences())
    pairs.append(stance_input(everything, 0, everything.index(" ")))  # truncated: the marked half is too long
    assert len(pairs) > 50
    assert torch.allclose(stance.probabilities(pairs), one_at_a_time(stance, pairs), atol=1e-4)


def test_no_inputs_give_no_rows():
    tone = TextClassifier.load(models_dir() / "wirestream-sentiment")
    assert tone([]) == []
    assert tone.probabilities([]).shape == (0, 3)


def test_float16_is_for_a_gpu():
    with pytest.raises(ValueError, match="GPU only"):
        TextClassifier.load(models_dir() / "wirestream-sentiment", precision="float16")


def test_bfloat16_is_refused_on_a_cpu_without_bfloat16_instructions(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: False)
    with pytest.raises(ValueError, match="bfloat16 instructions"):
        TextClassifier.load(models_dir() / "wirestream-sentiment", precision="bfloat16")


@pytest.mark.skipif(not precision.cpu_has_bfloat16(), reason="this CPU has no bfloat16 instructions (AVX512-BF16, AMX)")
def test_bfloat16_on_a_cpu_that_has_it_stays_near_float32():
    texts = ["Shares rallied after the upbeat results.", "The attack killed 40 soldiers.",
             "The committee met in Geneva on Monday."]
    float32 = TextClassifier.load(models_dir() / "wirestream-sentiment")
    half = TextClassifier.load(models_dir() / "wirestream-sentiment", precision="bfloat16")
    assert half.model.dtype == torch.bfloat16
    assert [p.label for p in half(texts)] == [p.label for p in float32(texts)]
    assert torch.allclose(half.probabilities(texts), float32.probabilities(texts), atol=0.03)


def test_rounded_is_pythons_round_on_every_value_halves_included():
    rng = np.random.default_rng(0)
    halves = (np.arange(10_000) + 0.5) / 10_000  # the nearest floats to the half points, and their neighbours
    values = np.concatenate([rng.random(100_000), halves, np.nextafter(halves, 0), np.nextafter(halves, 1),
                             rng.random(1000).astype(np.float32).astype(np.float64), [0.0, 1.0]])
    assert rounded(values).tolist() == [round(v, 4) for v in values.tolist()]


def test_polarities_are_the_predictions_as_arrays():
    tone = TextClassifier.load(models_dir() / "wirestream-sentiment")
    probabilities = tone.probabilities(seed_sentences())
    polarities = tone.polarities(probabilities)
    predictions = tone._predictions(probabilities)
    assert [POLARITIES[b] for b in polarities.best] == [p.label for p in predictions]
    assert polarities.scores() == [p.score for p in predictions]
    assert polarities.probabilities.tolist() == [[p.probabilities[label] for label in POLARITIES]
                                                 for p in predictions]
