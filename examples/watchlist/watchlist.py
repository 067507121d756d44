"""A stage of one's own: flag articles that portray a watched entity with a watched stance.

It reads the enriched topic, and for every entity on the list (by name or alias, any case) whose
stance in the article is one of the watched labels it records a hit under ``extensions["watchlist"]``;
every article goes on to ``<enriched topic>.watched``, with or without hits, so storage can sit
behind it (``WIRESTREAM_STORAGE_INPUT_TOPIC``). Its own settings come from ``WATCHLIST_*``.

>>> from schemas import EnrichedArticle
>>> article = EnrichedArticle.model_validate({
...     "id": "a1", "story_id": "a1", "source": "doc", "body": "Acme Corp was fined again.",
...     "entities": [{"key": "org:acme corp", "name": "Acme Corp", "label": "ORG", "aliases": ["Acme"],
...                   "mention_count": 1}],
...     "stances": [{"entity_key": "org:acme corp", "label": "negative", "score": 0.91}]})
>>> service = Watchlist(Settings(), WatchlistSettings(entities=["acme"]))
>>> service.process([article])[0].extensions["watchlist"]
{'hits': [{'entity': 'org:acme corp', 'name': 'Acme Corp', 'stance': 'negative', 'score': 0.91}]}
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import Article, EnrichedArticle
from wirestream.config import Settings
from wirestream.service import Service


class WatchlistSettings(BaseSettings):
    """``WATCHLIST_ENTITIES='["Acme", "Globex"]'``, ``WATCHLIST_STANCES='["negative"]'``."""

    model_config = SettingsConfigDict(env_prefix="WATCHLIST_")

    entities: list[str] = []
    stances: list[str] = ["negative"]


class Watchlist(Service):
    name = "watchlist"

    def __init__(self, settings: Settings, watch: WatchlistSettings | None = None) -> None:
        super().__init__(settings)
        self.watch = watch or WatchlistSettings()
        self.names = {name.casefold() for name in self.watch.entities}

    @property
    def input_topic(self) -> str:
        return self.settings.topic_enriched

    @property
    def output_topic(self) -> str:
        return self.settings.topic_enriched + ".watched"

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        return [self.flag(article) for article in batch]

    def flag(self, article: Article) -> Article:
        """The article with its hits under ``extensions["watchlist"]`` (an empty list when none)."""
        assert isinstance(article, EnrichedArticle)  # input_model: what the enriched topic carries
        stances = {stance.entity_key: stance for stance in article.stances}
        hits = [
            {"entity": entity.key, "name": entity.name, "stance": stance.label, "score": stance.score}
            for entity in article.entities
            if self.names & {name.casefold() for name in (entity.name, *entity.aliases)}
            and (stance := stances.get(entity.key)) is not None
            and stance.label in self.watch.stances
        ]
        return article.model_copy(update={"extensions": {**article.extensions, self.name: {"hits": hits}}})
