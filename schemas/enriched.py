"""The article with everything the NLP stages found: entities, tone and stance."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from schemas.article import Article

Polarity = Literal["negative", "neutral", "positive"]
TextField = Literal["headline", "body"]


class Span(BaseModel):
    """A character range in the article's ``headline`` or ``body``: ``text[start:end]``."""

    model_config = ConfigDict(extra="ignore")

    field: TextField = "body"
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class Mention(Span):
    """One entity mention found by NER."""

    text: str
    label: str = Field(description="Entity type: PER, ORG, LOC or MISC.")
    score: float = Field(ge=0, le=1)


class Entity(BaseModel):
    """Mentions of the same thing merged, with a key that is the same across articles."""

    model_config = ConfigDict(extra="ignore")

    key: str = Field(description="Normalised cross-article key, e.g. 'org:hamas'.")
    name: str = Field(description="Canonical name, the fullest mention.")
    label: str
    aliases: list[str] = Field(default_factory=list)
    mention_count: int = Field(ge=1)
    mentions: list[Span] = Field(default_factory=list)


class Sentiment(BaseModel):
    """A tone: the label and its probability."""

    model_config = ConfigDict(extra="ignore")

    label: Polarity
    score: float = Field(ge=0, le=1)


class SentenceTone(Span, Sentiment):
    """Tone of one sentence."""


class EntityStance(Sentiment):
    """How the article portrays one entity, aggregated over the sentences that mention it."""

    entity_key: str
    sentences: int = Field(default=1, ge=1, description="How many sentences mention the entity.")
    evidence: Span | None = Field(default=None, description="The sentence that weighs most.")


class EnrichedArticle(Article):
    """An article plus enrichment; stages fill in their part and pass the rest through."""

    SCHEMA_NAME = "enriched-article"
    SCHEMA_VERSION = "1.2"  # 1.1: status, supersedes (from Article); 1.2: extensions

    mentions: list[Mention] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    tone: Sentiment | None = Field(default=None, description="Tone of the whole article.")
    sentences: list[SentenceTone] = Field(default_factory=list)
    stances: list[EntityStance] = Field(default_factory=list)
    extensions: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="What stages outside wirestream add, each under its own stage name (any JSON); every stage "
        "passes it on, storage keeps it and the API returns it.",
    )

    @classmethod
    def of(cls, article: Article) -> EnrichedArticle:
        """``article`` as an enriched article: itself if it is one, else validated into one."""
        return article if isinstance(article, cls) else cls.model_validate(article.model_dump())

    @model_validator(mode="after")
    def _offsets_index_the_text(self) -> EnrichedArticle:
        return self.check_offsets()

    def check_offsets(self) -> EnrichedArticle:
        """Every mention's offsets index its text; a stage that sets mentions by ``model_copy`` calls this."""
        for mention in self.mentions:
            text = (self.headline or "") if mention.field == "headline" else self.body
            if text[mention.start : mention.end] != mention.text:
                raise ValueError(
                    f"mention {mention.text!r} at {mention.field}[{mention.start}:{mention.end}] "
                    f"does not match the text there"
                )
        return self
