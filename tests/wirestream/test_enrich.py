"""``wirestream enrich``: stages in this process, without Kafka, by the runtime's rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence

import pytest

from schemas import Article, EnrichedArticle
from tests.conftest import SEEDS
from tests.stages import BrokenSetup
from wirestream.config import Settings
from wirestream.enrich import enrich
from wirestream.service import Service, StageSetupFailed


class Numbered(Service):
    """Appends its batch's size to the body; refuses bodies that say "odd"."""

    name = "numbered"

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        if any("odd" in a.body for a in batch):
            raise ValueError("odd one")
        return [a.model_copy(update={"body": f"{a.body} {len(batch)}"}) for a in batch]


class Second(Numbered):
    name = "second"


def articles(*bodies: str) -> list[Article]:
    return [Article(id=f"a{n}", story_id=f"s{n}", source="t", body=body) for n, body in enumerate(bodies)]


def test_stages_run_in_order_in_batches_and_a_rejected_record_stops_at_its_stage():
    done = enrich(articles("one", "two", "odd", "four", "five"), [Numbered, Second], Settings(batch_size=2))
    assert [(a.id, a.body) for a in done.articles] == [("a0", "one 2 2"), ("a1", "two 2 2"), ("a3", "four 1 2"),
                                                       ("a4", "five 1 2")]
    assert [[step.service for step in a.trace] for a in done.articles] == [["numbered", "second"]] * 4
    [letter] = done.dead_letters
    assert (letter.stage, letter.article_id, letter.offset) == ("numbered", "a2", 2), "its place in the input"
    assert letter.error == "ValueError: odd one"


def test_a_stage_that_cannot_start_says_so_and_is_closed():
    BrokenSetup.closed = False
    with pytest.raises(StageSetupFailed, match="stage broken could not start"):
        enrich(articles("one"), [Numbered, BrokenSetup], Settings())
    assert BrokenSetup.closed


def test_the_command_enriches_the_seed_with_the_shipped_models(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "story_id": "x", "source": "t", "body": "' + "x" * 150 + '"}\n')
    seed = SEEDS / "001_brussels_energy.txt"
    result = subprocess.run([sys.executable, "-m", "wirestream", "enrich", str(seed), "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    [article] = [EnrichedArticle.model_validate(json.loads(line)) for line in result.stdout.splitlines()]
    assert [step.service for step in article.trace] == ["produce", "ner", "sentiment"]
    assert article.tone is not None and article.entities, "tone and entities filled in"
    assert all(article.body[m.start:m.end] == m.text for m in article.mentions)
    assert {stance.entity_key for stance in article.stances} == {entity.key for entity in article.entities}

    rejected = subprocess.run([sys.executable, "-m", "wirestream", "enrich", str(bad), "--stages", "ner"],
                              env={**os.environ, "WIRESTREAM_MAX_BODY_CHARS": "100"},
                              capture_output=True, text=True, timeout=300)
    assert rejected.returncode == 1 and rejected.stdout == ""
    assert rejected.stderr.strip().splitlines()[-1] == (
        "rejected by ner: x: invalid_content: body has 150 characters, over the limit of 100")
    unknown = subprocess.run([sys.executable, "-m", "wirestream", "enrich", str(seed), "--stages", "ner,nope"],
                             capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "no stage 'nope'" in unknown.stderr
