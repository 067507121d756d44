"""The vectorised NER layer gives exactly the spans of the per-word reference it replaced."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from tests.conftest import SEEDS
from tests.wirestream.nlp import reference_inference as reference
from tests.wirestream.nlp.conftest import NER_MODEL
from training.conll import read_conll
from wirestream.nlp.casing import casing_ids
from wirestream.nlp.decoding import WORD, EntitySpan, TextRuns, match_bounds
from wirestream.nlp.inference import TokenClassifier
from wirestream.wirefile import read_path


def assert_same_spans(new: list[list[EntitySpan]], old: list[list[EntitySpan]]) -> None:
    assert len(new) == len(old)
    for text, (found, expected) in enumerate(zip(new, old, strict=True)):
        assert [(s.start, s.end, s.label, s.text) for s in found] == [
            (s.start, s.end, s.label, s.text) for s in expected], f"text {text}"
        assert [s.score for s in found] == pytest.approx([s.score for s in expected], abs=1e-4), f"text {text}"


def seed_texts() -> list[str]:
    articles = read_path(SEEDS)
    return [a.body for a in articles] + [a.headline for a in articles if a.headline]


def test_the_seed_articles_get_the_reference_spans(ner):
    texts = seed_texts()
    assert_same_spans(ner(texts), reference.reference_spans(ner, texts))


def test_many_small_windows_get_the_reference_spans():
    ner = TokenClassifier.load(NER_MODEL, window=48, overlap=12, max_tokens=480)  # many edges, many calls
    texts = seed_texts()
    assert_same_spans(ner(texts), reference.reference_spans(ner, texts))


def test_conll_valid_gets_the_reference_spans(ner, data_dir):
    texts = [document.text()[0] for document in read_conll(data_dir / "conll2003" / "valid.txt")]
    found = ner(texts)
    assert sum(len(spans) for spans in found) > 5000
    assert_same_spans(found, reference.reference_spans(ner, texts))


def test_texts_without_tokens_or_entities_get_none(ner):
    assert ner(["", "   ", "the cat sat on the mat."]) == [[], [], []]


def test_casing_ids_are_the_reference_casing_ids_on_any_text(ner):
    rng = random.Random(7)
    alphabet = "aZ9 -'’_.\néÉß東ǅ"
    texts = seed_texts() + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(2000)]
    for text in texts:
        offsets = ner.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        offsets += [(0, 0), (len(text), len(text))]
        assert casing_ids(text, np.array(offsets, dtype=np.int64).reshape(-1, 2)) == reference.casing_ids(
            text, offsets), text


def test_one_pass_over_the_runs_finds_exactly_the_word_regex_words():
    rng = random.Random(11)
    alphabet = "aSs9 -'’_.\néÉß東ǅ"
    texts = seed_texts() + ["", "Sa'ar's", "it's_", "Jaish-e-Mohammed's-", "a's b'S c'sd", "-'x'-"] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(5000)]
    for text in texts:
        runs = TextRuns.of(text)
        assert runs.words.tolist() == match_bounds(WORD, text).tolist(), text
        assert runs.bounds.tolist() == match_bounds(re.compile(r"[^\W_]+"), text).tolist(), text
        assert runs.strings == [text[start:end] for start, end in runs.bounds.tolist()]


def test_the_runs_of_texts_together_are_the_runs_of_each_alone():
    rng = random.Random(13)
    alphabet = "aSs9 -'’_.\néÉß東ǅ\x00"
    texts = seed_texts() + ["", "s", "'s", "-", "Sa'ar's", "_x", "it's"] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    rng.shuffle(texts)  # every kind of end meets every kind of start
    for runs, text in zip(TextRuns.of_texts(texts), texts, strict=True):
        assert runs.words.tolist() == match_bounds(WORD, text).tolist(), text
        assert runs.bounds.tolist() == match_bounds(re.compile(r"[^\W_]+"), text).tolist(), text
        assert runs.strings == [text[start:end] for start, end in runs.bounds.tolist()]
