"""WIRESTREAM_NLP_PRECISION: int8 where a model's card offers it, float32 where it does not."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, SEED_ARTICLE
from tests.wirestream.nlp.conftest import NER_MODEL
from training.card import card_figure
from training.evaluate import evaluate_file
from wirestream.config import models_dir
from wirestream.nlp.classify import TextClassifier
from wirestream.nlp.inference import TokenClassifier
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
