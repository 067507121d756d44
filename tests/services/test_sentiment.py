"""The sentiment and stance stage on its own, through the runtime's batch rules (no broker)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from schemas import EnrichedArticle
from services.ner import NerService
from services.sentiment import SentimentService, sentences_of, stance_jobs
from tests.conftest import SEEDS
from wirestream.config import Settings
from wirestream.nlp.classify import POLARITIES
from wirestream.testing import run_batch
from wirestream.wirefile import read_path


@pytest.fixture(scope="module")
def recognised(ner: NerService) -> list[EnrichedArticle]:
    """The seeds as the NER stage hands them on."""
    seeds = [article for path in sorted(SEEDS.glob("*.txt")) for article in read_path(path)]
    return run_batch(ner, seeds).outputs


@pytest.fixture(scope="module")
def sentiment() -> Iterator[SentimentService]:
    service = SentimentService(Settings())
    service.setup()
    yield service
    service.close()


def test_every_sentence_has_a_tone_and_every_entity_one_stance_with_its_evidence(recognised, sentiment):
    outputs = run_batch(sentiment, recognised).outputs
    assert [a.id for a in outputs] == [a.id for a in recognised]
    for article in outputs:
        assert article.tone is not None and article.sentences
        assert all(s.label in {"negative", "neutral", "positive"} for s in article.sentences)
        assert sorted(s.entity_key for s in article.stances) == sorted(e.key for e in article.entities)
        for stance in article.stances:
            entity = next(e for e in article.entities if e.key == stance.entity_key)
            evidence = stance.evidence
            assert any(m.field == evidence.field and evidence.start <= m.start and m.end <= evidence.end
                       for m in entity.mentions), "the evidence sentence mentions the entity"
        assert [step.service for step in article.trace] == ["ner", "sentiment"]


def test_an_article_without_entities_gets_a_tone_and_no_stances(sentiment):
    plain = EnrichedArticle(id="p", story_id="p", source="t",
                            body="Oslo, May 2 (NTB) It rained all day. Nobody minded.")
    [out] = run_batch(sentiment, [plain]).outputs
    assert out.tone is not None and len(out.sentences) >= 2 and out.stances == []


def test_one_tokenization_for_both_models_changes_no_output(recognised, sentiment):
    assert sentiment.sharing is not None, "the shipped tone and stance models share their base tokenizer"
    shared = sentiment.process(recognised)
    sharing, sentiment.sharing = sentiment.sharing, None
    try:
        assert sentiment.process(recognised) == shared
    finally:
        sentiment.sharing = sharing


def per_prediction(sentiment: SentimentService, article: EnrichedArticle) -> tuple[dict, list[dict]]:
    """The article's tone and stances from one :class:`Prediction` per input, aggregated one by one: the
    reference the stage's array aggregation must equal."""
    group = sentences_of(article)
    tones = sentiment.tone([s.text for s in group])
    jobs = stance_jobs(article, group)
    stances = sentiment.stance.targets([target for _, _, target in jobs])

    def mean(predictions):
        return {label: sum(p.probabilities[label] for p in predictions) / len(predictions) for label in POLARITIES}

    document = mean(tones)
    label = max(document, key=document.__getitem__)
    per_entity: dict[str, list] = {}
    for (key, index, _), prediction in zip(jobs, stances, strict=True):
        per_entity.setdefault(key, []).append((index, prediction))
    found = []
    for key, evidence in per_entity.items():
        probabilities = mean([p for _, p in evidence])
        best = max(probabilities, key=probabilities.__getitem__)
        index, _ = max(evidence, key=lambda item: item[1].probabilities[best])
        found.append({"entity_key": key, "label": best, "score": round(probabilities[best], 4),
                      "sentences": len(evidence), "start": group[index].start})
    sentences = [(s.start, p.label, p.score) for s, p in zip(group, tones, strict=True)]
    return {"label": label, "score": round(document[label], 4), "sentences": sentences}, found


def test_the_stages_aggregates_are_those_of_one_prediction_per_input(recognised, sentiment):
    for article in sentiment.process(recognised):
        tone, stances = per_prediction(sentiment, article)
        assert {"label": article.tone.label, "score": article.tone.score,
                "sentences": [(s.start, s.label, s.score) for s in article.sentences]} == tone
        assert [{"entity_key": s.entity_key, "label": s.label, "score": s.score, "sentences": s.sentences,
                 "start": s.evidence.start} for s in article.stances] == stances
