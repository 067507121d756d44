"""Sentiment and stance stage: the tone of every sentence and of the article, and each entity's stance.

* **Tone**: the sentiment model on every sentence (headline included); the article's tone is the
  mean of its sentences' probabilities.
* **Stance**: how the article portrays each entity. The stance model reads every sentence that
  mentions the entity, with that mention marked; the entity's stance is the mean of those
  probabilities, and the sentence that gives the chosen label the highest probability is the
  evidence.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import TypeAdapter

from schemas import Article, EnrichedArticle, EntityStance, SentenceTone, Sentiment
from wirestream.nlp.classify import POLARITIES, TextClassifier, WordSharing
from wirestream.nlp.sentences import sentence_spans
from wirestream.service import Service

MAX_STANCE_CHARS = 600  # sentences longer than this are cropped around the mention
_SENTENCE_TONES = TypeAdapter(list[SentenceTone])  # an article's records validated in one call, not one each
_ENTITY_STANCES = TypeAdapter(list[EntityStance])


@dataclass(frozen=True)
class _Sentence:
    field: str
    start: int
    end: int
    text: str


def sentences_of(article: Article) -> list[_Sentence]:
    found = []
    if article.headline and article.headline.strip():
        text = article.headline
        start = len(text) - len(text.lstrip())
        found.append(_Sentence("headline", start, len(text.rstrip()), text.strip()))
    found.extend(_Sentence("body", s, e, article.body[s:e]) for s, e in sentence_spans(article.body))
    return found


def crop(sentence: str, start: int, end: int, limit: int = MAX_STANCE_CHARS) -> tuple[str, int, int]:
    """A window of ``limit`` characters around the mention, so truncation never cuts the target off."""
    if len(sentence) <= limit:
        return sentence, start, end
    left = max(0, min(start - (limit - (end - start)) // 2, len(sentence) - limit))
    return sentence[left : left + limit], start - left, end - left


class SentimentService(Service):
    name = "sentiment"

    @property
    def model(self) -> str:
        return f"{self.settings.sentiment_model} + {self.settings.stance_model}"

    @property
    def input_topic(self) -> str:
        return self.settings.topic_ner

    @property
    def output_topic(self) -> str:
        return self.settings.topic_enriched

    def setup(self) -> None:
        s = self.settings
        options = {"threads": s.torch_threads, "max_tokens": s.nlp_max_tokens, "device": s.nlp_device,
                   "precision": s.nlp_precision}
        self.tone = TextClassifier.load(s.sentiment_model, **options)
        self.stance = TextClassifier.load(s.stance_model, **options)
        for model in (self.tone, self.stance):
            model.warm_up()  # before the stage joins its group and reports ready
        self.sharing = WordSharing.of(self.tone, self.stance)  # each sentence tokenized once for both models

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        articles = [EnrichedArticle.of(a) for a in batch]
        sentences = [sentences_of(a) for a in articles]
        texts = [s.text for group in sentences for s in group]
        words = self.sharing.words(texts) if self.sharing is not None else None
        tones = self.tone.polarities(self.tone.probabilities(texts, words))
        jobs = [stance_jobs(article, group) for article, group in zip(articles, sentences, strict=True)]
        stances = self.stance.polarities(
            self.stance.target_probabilities([target for own in jobs for _, _, target in own], words))
        tone_labels, tone_scores = tones.best.tolist(), tones.scores()
        results = []
        tone_cursor = stance_cursor = 0
        for article, group, own_jobs in zip(articles, sentences, jobs, strict=True):
            rows = range(tone_cursor, tone_cursor + len(group))
            tone_cursor += len(group)
            sentence_tones = _SENTENCE_TONES.validate_python([
                {"field": s.field, "start": s.start, "end": s.end, "label": POLARITIES[tone_labels[row]],
                 "score": tone_scores[row]} for s, row in zip(group, rows, strict=True)])
            tone = None
            if group:
                label, score, _ = aggregate(tones.probabilities[rows.start : rows.stop])
                tone = Sentiment(label=label, score=score)
            per_entity: dict[str, list[int]] = {}  # entity key: its jobs' rows, sentences in order
            for row, (key, _, _) in enumerate(own_jobs, start=stance_cursor):
                per_entity.setdefault(key, []).append(row)
            entity_stances = []
            for key, entity_rows in per_entity.items():
                label, score, best = aggregate(stances.probabilities[entity_rows])
                sentence = group[own_jobs[entity_rows[best] - stance_cursor][1]]
                entity_stances.append({
                    "entity_key": key, "label": label, "score": score, "sentences": len(entity_rows),
                    "evidence": {"field": sentence.field, "start": sentence.start, "end": sentence.end},
                })
            stance_cursor += len(own_jobs)
            results.append(article.model_copy(update={
                "tone": tone, "sentences": sentence_tones, "stances": _ENTITY_STANCES.validate_python(entity_stances),
            }))
        return results


def aggregate(probabilities: np.ndarray) -> tuple[str, float, int]:
    """The label of the mean of rows of rounded probabilities (POLARITIES columns), its mean probability
    rounded, and the first row that gives that label its highest probability.

    The means are Python's ``sum`` over each column (numpy sums in another order, so its last bit can
    differ, and with it a rounded figure).

    >>> aggregate(np.array([[0.1, 0.2, 0.7], [0.6, 0.1, 0.3]]))
    ('positive', 0.5, 0)
    """
    columns = probabilities.T.tolist()
    means = [sum(column) / len(column) for column in columns]
    best = max(range(len(means)), key=means.__getitem__)  # ties: the first of POLARITIES
    chosen = columns[best]
    return POLARITIES[best], round(means[best], 4), max(range(len(chosen)), key=chosen.__getitem__)


def stance_jobs(article: EnrichedArticle, group: Sequence[_Sentence]) -> list[tuple[str, int, tuple[str, int, int]]]:
    """(entity key, sentence index, stance target) for each sentence that mentions each entity.

    Entity by entity, sentences in order; the target is the entity's first mention in the
    sentence, cropped to :data:`MAX_STANCE_CHARS`.
    """
    by_field: dict[str, tuple[list[int], list[int]]] = {}  # field: (sentence starts, sentence indices)
    for index, sentence in enumerate(group):
        starts, indices = by_field.setdefault(sentence.field, ([], []))
        starts.append(sentence.start)
        indices.append(index)
    jobs = []
    for entity in article.entities:
        first: dict[int, tuple[int, int]] = {}  # sentence index: the first mention in it, in sentence offsets
        for mention in entity.mentions:
            starts, indices = by_field.get(mention.field, ([], []))
            at = bisect_right(starts, mention.start) - 1  # the one sentence that can hold the mention
            if at < 0:
                continue
            index = indices[at]
            sentence = group[index]
            if mention.end <= sentence.end and index not in first:
                first[index] = (mention.start - sentence.start, mention.end - sentence.start)
        for index in sorted(first):
            jobs.append((entity.key, index, crop(group[index].text, *first[index])))
    return jobs
