"""The exported JSON Schema files and the pydantic models must never drift apart."""

import json

import pytest
from pydantic import ValidationError

import schemas
from schemas import Article, EnrichedArticle, Mention


@pytest.mark.parametrize("model", schemas.MODELS, ids=lambda m: m.SCHEMA_NAME)
def test_exported_file_matches_the_model(model):
    path = schemas.json_schema_path(model)
    assert path.exists(), f"{path.name} missing: run 'wirestream schemas export'"
    assert json.loads(path.read_text()) == json.loads(schemas.render_json_schema(model)), (
        f"{path.name} is stale: run 'wirestream schemas export'"
    )


@pytest.mark.parametrize("model", schemas.MODELS, ids=lambda m: m.SCHEMA_NAME)
def test_every_record_carries_id_or_origin_version_and_trace(model):
    fields = model.model_json_schema()["properties"]
    assert "schema_version" in fields
    if issubclass(model, Article):
        assert {"id", "story_id", "version", "trace"} <= set(fields)


def _article(**fields):
    return {"id": "a", "story_id": "a", "source": "test", "body": "Paris, Jan 2 (AFP) Text.", **fields}


def test_a_newer_minor_version_is_read_and_its_new_fields_ignored():
    article = Article.model_validate(_article(schema_version="1.9", sentiment_v2={"x": 1}))
    assert article.schema_version == "1.9"


@pytest.mark.parametrize("model", schemas.MODELS, ids=lambda m: m.SCHEMA_NAME)
def test_a_record_is_written_under_the_version_of_the_model_that_writes_it(model):
    """A new record is of its model's version, and so is every record a stage writes, whatever it read."""
    assert model.model_json_schema()["properties"]["schema_version"]["default"] == model.SCHEMA_VERSION
    if issubclass(model, Article):
        assert model.model_validate(_article()).model_dump()["schema_version"] == model.SCHEMA_VERSION
        read_old = model.model_validate(_article(schema_version="1.0"))
        assert read_old.schema_version == "1.0"
        assert json.loads(read_old.model_dump_json())["schema_version"] == model.SCHEMA_VERSION


def test_another_major_version_is_refused_with_a_clear_error():
    with pytest.raises(ValidationError, match=r"schema version 2\.0 is not supported: this reader understands 1\.x"):
        Article.model_validate(_article(schema_version="2.0"))


def test_an_empty_body_is_refused():
    with pytest.raises(ValidationError, match="body is empty"):
        Article.model_validate(_article(body="  \n "))


def test_mention_offsets_must_index_the_body():
    body = "Paris, Jan 2 (AFP) Emmanuel Macron spoke."
    good = Mention(text="Emmanuel Macron", label="PER", start=19, end=34, score=0.99)
    assert EnrichedArticle.model_validate(_article(body=body, mentions=[good.model_dump()])).mentions == [good]
    bad = good.model_copy(update={"start": 18})
    with pytest.raises(ValidationError, match="does not match the text there"):
        EnrichedArticle.model_validate(_article(body=body, mentions=[bad.model_dump()]))


def test_extensions_carry_any_json_and_nothing_else():
    carried = EnrichedArticle.model_validate(_article(extensions={"alerts": {"rules": ["a"], "n": 1}}))
    assert json.loads(carried.model_dump_json())["extensions"] == {"alerts": {"rules": ["a"], "n": 1}}
    with pytest.raises(ValidationError, match="extensions"):
        EnrichedArticle.model_validate(_article(extensions={"alerts": {1, 2}}))
