"""The current-news evaluation set: well formed, and the shipped model's figure on it is the card's."""

from __future__ import annotations

import itertools
import re

import pytest

from training.card import card_figure
from training.current_news import evaluate_current_news, read_current_news
from wirestream.config import models_dir


def test_forty_wire_articles_of_the_2020s_with_every_gold_span_on_its_text():
    articles = read_current_news()
    assert len(articles) == 40
    assert all(article.published.year >= 2020 and article.agency and article.dateline for article, _ in articles)
    for article, gold in articles:
        assert {label for _, _, label in gold} <= {"PER", "ORG", "LOC", "MISC"}
        for start, end, _ in gold:
            name = article.body[start:end]
            assert name == name.strip() and re.match(r"\w", name), (article.source, name)
        spans = sorted(gold)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), article.source  # no overlaps


def test_the_shipped_models_current_news_figure_is_what_its_card_says(ner):
    f1 = evaluate_current_news(ner).micro()[2]
    assert f1 == pytest.approx(card_figure(models_dir() / "wirestream-ner", "current_news_micro_f1"), abs=0.002)
