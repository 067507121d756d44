"""Stages of one's own: found by ``module:Class`` or through the ``wirestream.services`` entry points."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from services import REGISTRY, StageNotFound, all_topics, input_topics, load, resolve, stages
from tests.stages import Copy
from wirestream.config import Settings

PLUGIN = '''
from wirestream.service import Service


class Alerts(Service):
    name = "alerts"

    @property
    def input_topic(self):
        return self.settings.topic_enriched

    def process(self, batch):
        return batch


class Impostor(Alerts):
    name = "ner"


class Tagger(Service):
    """Reads the raw topic and copies each record to <raw>.tagged, with its word count as an extension."""

    name = "tagger"

    @property
    def output_topic(self):
        return self.settings.topic_raw + ".tagged"

    def process(self, batch):
        return [r.model_copy(update={"extensions": {**r.extensions, "tagger": {"words": len(r.body.split())}}})
                for r in batch]
'''


def install_plugin(root: Path, entries: dict[str, str]) -> None:
    """A module and the dist-info of a package that declares ``entries`` as wirestream stages."""
    (root / "my_alerts.py").write_text(PLUGIN)
    info = root / "my_alerts-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-alerts\nVersion: 0.1\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entries.items())
    (info / "entry_points.txt").write_text(f"[wirestream.services]\n{lines}")


@pytest.fixture
def plugin_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("my_alerts", None)


def test_a_stage_is_named_by_module_and_class():
    assert resolve("tests.stages:Copy") is Copy
    assert load("tests.stages:SlowCopy").delay_s == 0.2


@pytest.mark.parametrize(("spec", "why"), [
    ("tests.nowhere:Copy", "cannot import tests.nowhere"),
    ("tests.stages:Nope", "module tests.stages has no Nope"),
    ("tests.stages:Sequence", "is not a wirestream.service.Service subclass"),
    ("wirestream.service:Service", "does not implement process()"),
    ("tests.stages:", "give a stage name or module:Class"),
    ("sentimnet", "no stage 'sentimnet'; the stages are ner, sentiment, storage"),
])
def test_what_names_no_stage_says_why(spec, why):
    with pytest.raises(StageNotFound, match=why):
        resolve(spec)


def test_an_installed_package_adds_its_stage_after_the_pipelines_own(plugin_root):
    install_plugin(plugin_root, {"alerts": "my_alerts:Alerts"})
    found = stages()
    assert list(found) == [*REGISTRY, "alerts"]
    assert resolve("alerts") is found["alerts"]
    assert input_topics(Settings(), found)["alerts"] == Settings().topic_enriched
    assert "alerts" not in input_topics(Settings())  # the pipeline alone, as demo and audit want it


def test_the_topics_of_a_plugged_in_stage_are_checked_with_the_pipelines(plugin_root):
    install_plugin(plugin_root, {"tagger": "my_alerts:Tagger"})
    settings = Settings()
    assert all_topics(settings) == [*settings.pipeline_topics, f"{settings.topic_raw}.tagged"]


def test_a_package_cannot_take_a_pipeline_stage_and_a_broken_one_spoils_nothing(plugin_root, caplog):
    install_plugin(plugin_root, {"ner": "my_alerts:Impostor", "gone": "my_alerts:Gone", "alerts": "my_alerts:Alerts"})
    with caplog.at_level(logging.WARNING, logger="services"):
        found = stages()
    assert found["ner"] is REGISTRY["ner"] and "alerts" in found and "gone" not in found
    assert "the name 'ner' is taken by services.ner.NerService" in caplog.text
    assert "stage 'gone' from my_alerts:Gone is left out" in caplog.text
