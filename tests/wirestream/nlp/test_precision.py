"""WIRESTREAM_NLP_PRECISION: int8 or bfloat16 where a model's card offers it, float32 where it does not; fast."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import ROOT, SEED_ARTICLE
from tests.wirestream.nlp.conftest import NER_MODEL
from training.card import card_figure
from training.evaluate import evaluate_file
from wirestream.config import models_dir
from wirestream.nlp import precision
from wirestream.nlp.classify import TextClassifier
from wirestream.nlp.inference import TokenClassifier
from wirestream.nlp.precision import offered_precision
from wirestream.wirefile import parse_wire_text


@pytest.fixture(scope="module")
def ner_int8() -> TokenClassifier:
    return TokenClassifier.load(NER_MODEL, precision="int8")


def test_the_ner_model_runs_in_int8_where_its_card_offers_it(ner_int8):
    assert ner_int8.precision == "int8"
    assert "int8" in json.loads((NER_MODEL / "precision.json").read_text())["offered"]
    assert "| int8 |" in (NER_MODEL / "README.md").read_text()


def test_a_model_whose_card_does_not_offer_int8_runs_in_float32(caplog):
    stance = TextClassifier.load(models_dir() / "wirestream-stance", precision="int8")
    assert stance.precision == "float32"
    assert "int8 is not offered for this model" in caplog.text


def test_the_sentiment_model_runs_in_int8_with_its_output_projections_kept_float32():
    tone = TextClassifier.load(models_dir() / "wirestream-sentiment", precision="int8")
    assert tone.precision == "int8"
    kept = [name for name, module in tone.model.named_modules()
            if name.endswith(".output.dense") and type(module).__name__ == "Linear"]
    assert kept, "the card keeps the feed-forward output projections float32"
    assert "| int8 |" in (models_dir() / "wirestream-sentiment" / "README.md").read_text()


def test_int8_ner_finds_the_seed_articles_gold_mentions(ner_int8):
    gold = json.loads((ROOT / "tests" / "data" / "seed_entities.json").read_text())
    body = parse_wire_text(SEED_ARTICLE.read_text(), source="seed").body
    found = {(span.start, span.end, span.label) for span in ner_int8([body])[0]}
    expected = {(m["start"], m["end"], m["label"]) for m in gold["mentions"]}
    assert len(expected & found) / len(expected) >= 0.85


def test_int8_ner_conll_test_f1_is_what_its_card_says(ner_int8, data_dir):
    f1 = evaluate_file(data_dir / "conll2003" / "test.txt", ner_int8).micro()[2]
    record = json.loads((NER_MODEL / "precision.json").read_text())["figures"]
    assert f1 == pytest.approx(record["int8"]["test_micro_f1"], abs=0.002)
    assert f1 >= card_figure(NER_MODEL) - 0.005


def test_fast_takes_int8_where_a_cpu_has_no_bfloat16_and_the_card_offers_it(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: False)
    assert offered_precision(NER_MODEL, "fast") == "int8"
    assert offered_precision(models_dir() / "wirestream-stance", "fast") == "float32"  # its card offers no int8


@pytest.mark.skipif(not precision.cpu_has_bfloat16(), reason="this CPU has no bfloat16 instructions (AVX512-BF16, AMX)")
def test_fast_takes_bfloat16_on_a_cpu_with_bfloat16_instructions():
    ner = TokenClassifier.load(NER_MODEL, precision="fast")
    assert ner.precision == "bfloat16"
    assert ner.model.dtype == torch.bfloat16
    body = parse_wire_text(SEED_ARTICLE.read_text(), source="seed").body
    assert {span.label for span in ner([body])[0]} >= {"PER", "ORG", "LOC"}


def test_fast_on_a_gpu_is_bfloat16_and_a_model_without_a_card_runs_the_first_candidate(tmp_path):
    assert precision.fast_candidates("cuda:0") == ("bfloat16",)
    assert offered_precision(tmp_path, "fast", "cuda") == "bfloat16"
