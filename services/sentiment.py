"""Sentiment and stance stage: the tone of every sentence and of the article, and each entity's stance.

* **Tone**: the sentiment model on every sentence (headline included); the article's tone is the
  mean of its sentences' probabilities.
* **Stance**: how the article portrays each entity. The stance model reads every sentence that
  mentions the entity, with that mention marked; the entity's stance is the mean of those
  probabilities, and the sentence that gives the chosen label the highest probability is the
  evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas import Article, EnrichedArticle, EntityStance, SentenceTone, Sentiment, Span
from wirestream.nlp.classify import POLARITIES, Prediction, TextClassifier, stance_input
from wirestream.nlp.sentences import sentence_spans
from wirestream.service import Service

MAX_STANCE_CHARS = 600  # sentences longer than this are cropped around the mention


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


def mean(predictions: Sequence[Prediction]) -> dict[str, float]:
    return {label: sum(p.probabilities[label] for p in predictions) / len(predictions) for label in POLARITIES}


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

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        articles = [EnrichedArticle.of(a) for a in batch]
        sentences = [sentences_of(a) for a in articles]
        tones = self.tone([s.text for group in sentences for s in group])
        stance_jobs: list[tuple[int, str, int]] = []  # (article, entity key, sentence index)
        stance_inputs = []
        for a, (article, group) in enumerate(zip(articles, sentences, strict=True)):
            for entity in article.entities:
                for index, sentence in enumerate(group):
                    inside = [m for m in entity.mentions if m.field == sentence.field
                              and sentence.start <= m.start and m.end <= sentence.end]
                    if inside:
                        text, start, end = crop(sentence.text, inside[0].start - sentence.start,
                                                inside[0].end - sentence.start)
                        stance_jobs.append((a, entity.key, index))
                        stance_inputs.append(stance_input(text, start, end))
        stances = self.stance(stance_inputs)

        results = []
        cursor = 0
        for a, (article, group) in enumerate(zip(articles, sentences, strict=True)):
            own = tones[cursor : cursor + len(group)]
            cursor += len(group)
            sentence_tones = [
                SentenceTone(field=s.field, start=s.start, end=s.end, label=p.label, score=p.score)
                for s, p in zip(group, own, strict=True)
            ]
            document = mean(own) if own else None
            tone = None
            if document:
                label = max(document, key=document.__getitem__)
                tone = Sentiment(label=label, score=round(document[label], 4))
            per_entity: dict[str, list[tuple[int, Prediction]]] = {}
            for (job_article, key, index), prediction in zip(stance_jobs, stances, strict=True):
                if job_article == a:
                    per_entity.setdefault(key, []).append((index, prediction))
            entity_stances = []
            for key, evidence in per_entity.items():
                probabilities = mean([p for _, p in evidence])
                label = max(probabilities, key=probabilities.__getitem__)
                index, _ = max(evidence, key=lambda item: item[1].probabilities[label])
                best = group[index]
                entity_stances.append(EntityStance(
                    entity_key=key, label=label, score=round(probabilities[label], 4), sentences=len(evidence),
                    evidence=Span(field=best.field, start=best.start, end=best.end),
                ))
            results.append(article.model_copy(update={
                "tone": tone, "sentences": sentence_tones, "stances": entity_stances,
            }))
        return results
