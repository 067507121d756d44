"""Entity-level precision, recall and F1 on CoNLL files, through the inference layer.

Each document is given to :class:`TokenClassifier` as text, exactly as an article would
be; predicted character spans are mapped back onto the CoNLL tokens and scored with exact
span and type (the seqeval / conlleval convention), per sentence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from training.conll import ENTITY_TYPES, Document, entities, read_conll
from wirestream.nlp.inference import TokenClassifier


@dataclass
class Scores:
    true_positives: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    gold: Counter[str] = field(default_factory=Counter)

    @staticmethod
    def _prf(tp: int, predicted: int, gold: int) -> tuple[float, float, float]:
        precision = tp / predicted if predicted else 0.0
        recall = tp / gold if gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    def count(self, gold: set[tuple], found: set[tuple]) -> None:
        """Add one text's gold and found entities, each a tuple whose last item is its type."""
        for *_, kind in gold:
            self.gold[kind] += 1
        for *_, kind in found:
            self.predicted[kind] += 1
        for *_, kind in gold & found:
            self.true_positives[kind] += 1

    def micro(self) -> tuple[float, float, float]:
        return self._prf(sum(self.true_positives.values()), sum(self.predicted.values()), sum(self.gold.values()))

    def per_type(self) -> dict[str, tuple[float, float, float]]:
        return {t: self._prf(self.true_positives[t], self.predicted[t], self.gold[t]) for t in ENTITY_TYPES}

    def report(self) -> str:
        precision, recall, f1 = self.micro()
        lines = [
            f"entities: {sum(self.gold.values())} gold, {sum(self.predicted.values())} predicted",
            f"micro     precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}",
        ]
        for kind, (p, r, f) in self.per_type().items():
            lines.append(f"{kind:<9} precision {p:.4f}  recall {r:.4f}  F1 {f:.4f}  (gold {self.gold[kind]})")
        return "\n".join(lines)


def predicted_tags(document: Document, classifier: TokenClassifier) -> list[list[str]]:
    """IOB2 tags per sentence from the classifier's spans on the document text."""
    text, sentence_spans = document.text()
    return tags_from_spans(sentence_spans, classifier([text])[0])


def tags_from_spans(sentence_spans: list[list[tuple[int, int]]], spans: list) -> list[list[str]]:
    tags = [["O"] * len(sentence) for sentence in sentence_spans]
    starts = {start: (s, t) for s, sentence in enumerate(sentence_spans) for t, (start, _) in enumerate(sentence)}
    ends = {(s, t): end for s, sentence in enumerate(sentence_spans) for t, (_, end) in enumerate(sentence)}
    for span in spans:
        first = next((starts[c] for c in range(span.start, span.end) if c in starts), None)
        if first is None:
            continue
        s, t = first
        tags[s][t] = f"B-{span.label}"
        t += 1
        while t < len(tags[s]) and ends[(s, t)] <= span.end:
            tags[s][t] = f"I-{span.label}"
            t += 1
    return tags


def evaluate_documents(documents: list[Document], classifier: TokenClassifier, batch: int = 16) -> Scores:
    scores = Scores()
    for first in range(0, len(documents), batch):
        chunk = documents[first : first + batch]
        texts = [doc.text() for doc in chunk]
        results = classifier([text for text, _ in texts])
        for doc, (_, sentence_spans), spans in zip(chunk, texts, results, strict=True):
            for gold_sentence, predicted in zip(doc.sentences, tags_from_spans(sentence_spans, spans), strict=True):
                scores.count(entities([tag for _, tag in gold_sentence]), entities(predicted))
    return scores


def evaluate_file(path: Path, classifier: TokenClassifier) -> Scores:
    return evaluate_documents(read_conll(path), classifier)
