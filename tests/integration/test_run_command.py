"""``wirestream run``: stages of one's own, a model that is not there, a setup that fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from schemas import Article, EnrichedArticle
from services import StorageService
from tests.services.test_plugins import install_plugin
from tests.stages import BrokenSetup
from wirestream.clients import read_topic
from wirestream.db import open_store
from wirestream.producer import publish
from wirestream.runtime import StageRunner
from wirestream.service import StageSetupFailed
from wirestream.testing import running_stage, settings_env, stop_processes, wait_for


def test_a_plugged_in_stage_runs_by_name_shows_in_status_and_what_it_adds_is_stored(settings, tmp_path: Path):
    install_plugin(tmp_path, {"tagger": "my_alerts:Tagger"})
    env = settings_env(settings)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    publish([Article(id="a-1", story_id="a-1", source="test", body="Oslo, May 2 (NTB) Quiet.")], settings)
    log = tmp_path / "tagger.log"
    with log.open("wb") as output:
        stage = subprocess.Popen([sys.executable, "-m", "wirestream", "run", "tagger"], env=env,
                                 stdout=output, stderr=subprocess.STDOUT)
    try:
        [record] = read_topic(settings, settings.topic_raw + ".tagged", expect=1, timeout=90)
        tagged = EnrichedArticle.model_validate_json(record.value)
        assert tagged.id == "a-1" and [step.service for step in tagged.trace] == ["produce", "tagger"]
        assert tagged.extensions == {"tagger": {"words": 5}}
        status = subprocess.run([sys.executable, "-m", "wirestream", "status", "--json"], env=env,
                                capture_output=True, text=True, timeout=120)
        assert status.returncode == 0, status.stderr
        tagger = next(s for s in json.loads(status.stdout) if s["stage"] == "tagger")
        assert tagger["group"] == settings.group_id("tagger") and tagger["total_lag"] == 0
        # placed before storage, what the stage adds is stored with the article
        behind = settings.model_copy(update={"storage_input_topic": settings.topic_raw + ".tagged"})
        with running_stage(StorageService(behind), behind):
            stored = wait_for(lambda: open_store(behind).get("a-1"), timeout=60, what="a-1 stored")
        assert stored.article.extensions == {"tagger": {"words": 5}}
    finally:
        stop_processes([stage])
    assert stage.returncode == 0, log.read_text()


def test_a_model_that_is_not_there_stops_the_stage_with_one_line_naming_it(settings, tmp_path: Path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    for model, says in ((tmp_path / "missing", f"no model at {tmp_path / 'missing'}: no such directory"),
                        (broken, f"could not load the model {broken}: ")):
        env = {**settings_env(settings), "WIRESTREAM_NER_MODEL": str(model)}
        result = subprocess.run([sys.executable, "-m", "wirestream", "run", "ner"], env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 78, result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith(f"wirestream run: {says}"), result.stderr
        assert "Traceback" not in result.stderr


def test_a_stage_whose_setup_raises_does_not_start_and_gives_back_what_it_took(settings):
    with pytest.raises(StageSetupFailed, match=r"^stage broken could not start: its setup raised "
                       r"FileNotFoundError: lexicon.txt is not in the image \(stages.py:\d+, in setup\)$"):
        StageRunner(BrokenSetup(settings), settings).run()
    assert BrokenSetup.closed


def test_the_run_command_says_in_one_line_why_the_stage_could_not_start(settings):
    result = subprocess.run([sys.executable, "-m", "wirestream", "run", "tests.stages:BrokenSetup"],
                            env=settings_env(settings), capture_output=True, text=True, timeout=120)
    assert result.returncode == 70, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "wirestream run: stage broken could not start: its setup raised FileNotFoundError: lexicon.txt is not in "
        f"the image (stages.py:{BrokenSetup.setup.__code__.co_firstlineno + 2}, in setup); --log-level DEBUG shows "
        "its traceback"), result.stderr
    assert "Traceback" not in result.stderr
