"""NER stage: entity mentions and merged entities for the headline and body of every article.

The whole polled batch goes through the model at once (length-sorted windows, bounded by
``WIRESTREAM_NLP_MAX_TOKENS``); the model is loaded once per process. A body's dateline gives its
city and agency itself (:mod:`wirestream.nlp.dateline`).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import TypeAdapter

from schemas import Article, EnrichedArticle, Mention
from wirestream.nlp.dateline import with_dateline
from wirestream.nlp.entities import merge_entities
from wirestream.nlp.inference import TokenClassifier
from wirestream.service import Service

_MENTIONS = TypeAdapter(list[Mention])


class NerService(Service):
    name = "ner"

    @property
    def model(self) -> str:
        return self.settings.ner_model

    @property
    def input_topic(self) -> str:
        return self.settings.topic_raw

    @property
    def output_topic(self) -> str:
        return self.settings.topic_ner

    def setup(self) -> None:
        s = self.settings
        self.classifier = TokenClassifier.load(
            s.ner_model, threads=s.torch_threads, window=s.nlp_window, overlap=s.nlp_overlap,
            max_tokens=s.nlp_max_tokens, device=s.nlp_device, precision=s.nlp_precision,
        )
        self.classifier.warm_up()  # before the stage joins its group and reports ready

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        texts: list[tuple[int, str, str]] = []  # (article index, field, text)
        for index, article in enumerate(batch):
            if article.headline:
                texts.append((index, "headline", article.headline))
            texts.append((index, "body", article.body))
        spans = self.classifier([text for _, _, text in texts])
        mentions: list[list[dict]] = [[] for _ in batch]
        for (index, field, text), found in zip(texts, spans, strict=True):
            if field == "body":
                found = with_dateline(text, found)
            mentions[index].extend(
                {"field": field, "start": s.start, "end": s.end, "text": s.text, "label": s.label,
                 "score": min(1.0, s.score)} for s in found
            )
        results = []
        for article, data in zip(batch, mentions, strict=True):
            data.sort(key=lambda m: (m["field"] != "headline", m["start"]))
            found = _MENTIONS.validate_python(data)  # one call for the article's mentions, not one each
            entities = merge_entities(found, article.body, article.headline)
            # validated parts into a copy: re-validating the whole article cost more than the decoding
            results.append(EnrichedArticle.of(article).model_copy(
                update={"mentions": found, "entities": entities}).check_offsets())
        return results
