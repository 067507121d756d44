"""The current-news NER evaluation set: 40 wire articles of 2024-2025 from every region, with gold entities.

CoNLL-2003 is 1996 Reuters text; a stage reads today's wires from South Asia, Africa, Latin America
and the Middle East, whose organisations and places CoNLL barely knows. These articles were written
for wirestream (own sentences about the news of 2023-2025, invented officials where the event is
invented), each mention annotated with CoNLL's four types (nationalities, events and the like MISC).
Nothing is tuned on it: it is reported beside CoNLL in the NER card, never used to choose.

>>> articles = read_current_news()
>>> len(articles), sum(len(gold) for _, gold in articles)
(40, 342)
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas import Article
from training.evaluate import Scores
from wirestream.nlp.dateline import with_dateline
from wirestream.wirefile import parse_wire_text

CURRENT_NEWS = Path(__file__).resolve().parent.parent / "tests" / "data" / "current_news_ner.jsonl"
Gold = set[tuple[int, int, str]]


def read_current_news(path: Path = CURRENT_NEWS) -> list[tuple[Article, Gold]]:
    """Each article as the producer reads it, with its gold mentions as (start, end, type) in ``body``."""
    articles = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        article = parse_wire_text(row["wire"], source=row["id"])
        gold = {(m["start"], m["end"], m["label"]) for m in row["mentions"]}
        for start, end, _ in gold:
            if not article.body[start:end]:
                raise ValueError(f"{row['id']}: gold span {start}:{end} is outside the body")
        articles.append((article, gold))
    return articles


def stage_mentions(classifier, articles: list[tuple[Article, Gold]]) -> list[list]:
    """The mentions the NER stage gives each body: the classifier's, with the dateline's names."""
    bodies = [a.body for a, _ in articles]
    return [with_dateline(body, spans) for body, spans in zip(bodies, classifier(bodies), strict=True)]


def evaluate_current_news(classifier, path: Path = CURRENT_NEWS) -> Scores:
    """Entity-level exact span and type scores of the NER stage's mentions on the set's article bodies."""
    scores = Scores()
    articles = read_current_news(path)
    for (_, gold), spans in zip(articles, stage_mentions(classifier, articles), strict=True):
        scores.count(gold, {(span.start, span.end, span.label) for span in spans})
    return scores


def errors(classifier, path: Path = CURRENT_NEWS) -> list[str]:
    """One line per missed or wrong mention: what the set says, what the model said."""
    lines = []
    articles = read_current_news(path)
    for (article, gold), spans in zip(articles, stage_mentions(classifier, articles), strict=True):
        found = {(s.start, s.end, s.label) for s in spans}
        for start, end, kind in sorted(gold - found):
            said = [f"{article.body[s:e]!r} {k}" for s, e, k in found if s < end and e > start]
            lines.append(f"{article.source}: {article.body[start:end]!r} {kind} -> {', '.join(said) or 'nothing'}")
        for start, end, kind in sorted(found - gold):
            if not any(s < end and e > start for s, e, _ in gold):
                lines.append(f"{article.source}: spurious {article.body[start:end]!r} {kind}")
    return lines
