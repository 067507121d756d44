"""`wirestream topics`: topics that no longer match the settings are reported, and `--apply` brings
them in step; a running stage then reads the partitions it added."""

from __future__ import annotations

import dataclasses
import logging

from kafka import KafkaProducer

from schemas import Article
from tests.factories import stories
from tests.stages import Copy
from wirestream.cli import main
from wirestream.clients import ensure_topics, make_admin, read_topic
from wirestream.producer import publish
from wirestream.status import collect, table
from wirestream.testing import export_settings, running_stage, wait_for
from wirestream.topics import inspect, reconcile


def _states(settings):
    admin = make_admin(settings)
    try:
        return {state.name: state for state in inspect(admin, settings)}
    finally:
        admin.close()


def test_apply_adds_partitions_and_sets_retention_and_a_running_stage_reads_the_new_partitions(
        settings, monkeypatch, capsys, caplog):
    settings = settings.model_copy(update={"partitions": 2, "metadata_max_age_ms": 1000})
    ensure_topics(settings)
    grown = settings.model_copy(update={"partitions": 4, "topic_retention_ms": 3_600_000})
    caplog.set_level(logging.WARNING, logger="wirestream.clients")
    ensure_topics(grown, [grown.topic_raw])
    assert "2 partitions, settings ask for 4" in caplog.text, "a stage starting with other settings warns"
    assert _states(grown)[grown.topic_raw].partitions == 2, "and changes nothing itself"

    sent = stories(0, 5)
    with running_stage(Copy(settings), settings) as stage:
        assert publish(sent[:1], settings).ok
        wait_for(lambda: stage.metrics.records_out == 1, timeout=60, what="the stage under way")
        export_settings(grown, monkeypatch.setenv)
        assert main(["topics"]) == 1
        assert "retention.ms=604800000, settings ask for 3600000" in capsys.readouterr().out
        assert main(["topics", "--apply"]) == 0
        out = capsys.readouterr().out
        assert f"{grown.topic_raw}: 2 -> 4 partitions" in out and f"{grown.topic_raw}: set retention.ms=3600000" in out
        assert f"{grown.topic_dead_letter}: set" not in out, "dead letters keep their own retention"
        states = _states(grown)
        assert grown.topic_other_languages in states, "the topic ingestion diverts other languages to is covered"
        assert all(state.partitions == 4 and not state.drift() for state in states.values())
        assert states[grown.topic_raw].configs["retention.ms"] == "3600000"
        assert states[grown.topic_dead_letter].configs["retention.ms"] == "-1"

        producer = KafkaProducer(**settings.kafka_options())
        try:  # straight onto the new partitions, before the stage has seen them
            for n, article in enumerate(sent[1:]):
                producer.send(settings.topic_raw, value=article.model_dump_json().encode(), partition=2 + n % 2)
            producer.flush()
        finally:
            producer.close()
        wait_for(lambda: stage.metrics.records_out == 5, timeout=60, what="the new partitions' records processed")
    out = [Article.model_validate_json(r.value) for r in read_topic(settings, settings.topic_ner, expect=5)]
    assert sorted(a.id for a in out) == sorted(a.id for a in sent)


def test_status_reports_members_beyond_the_input_partitions_as_idle(settings):
    settings = settings.model_copy(update={"partitions": 1})
    ensure_topics(settings)
    stage = {"copy": settings.topic_raw}
    with (running_stage(Copy(settings), settings.model_copy(update={"instance_id": "first"})) as first,
          running_stage(Copy(settings), settings.model_copy(update={"instance_id": "second"})) as second):
        wait_for(lambda: (s := collect(settings, stage, interval_s=0)[0]).state == "Stable" and len(s.members) == 2,
                 timeout=60, what="both members in the group")
        [status] = collect(settings, stage, interval_s=0)
        wait_for(lambda: sorted(_assigned(first) + _assigned(second)) == [0, 1], timeout=30,
                 what="one member with the partition, one standby")
    assert status.partitions == 1 and status.idle_members == 1
    assert f"1 member(s) idle: {settings.topic_raw} has 1 partitions" in table([status])


def _assigned(runner) -> list[int]:
    """The runner's ``wirestream_assigned_partitions`` as its /metrics shows it ([] before it is set)."""
    text = runner.telemetry.render().decode()
    return [int(float(line.split()[-1])) for line in text.splitlines()
            if line.startswith("wirestream_assigned_partitions{")]


def _lag_partitions(runner) -> set[str]:
    """The input partitions the runner's ``wirestream_consumer_lag`` has a series for."""
    text = runner.telemetry.render().decode()
    return {line.split('partition="')[1].split('"')[0] for line in text.splitlines()
            if line.startswith("wirestream_consumer_lag{")}


def test_a_partition_that_moves_to_another_member_takes_its_lag_series_along(settings):
    settings = settings.model_copy(update={"partitions": 2, "batch_size": 5})
    sent = stories(0, 30)
    assert publish(sent, settings).ok
    with running_stage(Copy(settings), settings.model_copy(update={"instance_id": "first"})) as first:
        wait_for(lambda: first.metrics.records_out == 30, timeout=60, what="everything copied")
        assert _lag_partitions(first) == {"0", "1"} and _assigned(first) == [2]
        with running_stage(Copy(settings), settings.model_copy(update={"instance_id": "second"})) as second:
            wait_for(lambda: _assigned(first) == [1] and _assigned(second) == [1], timeout=60,
                     what="one partition moved to the second member")
            assert len(_lag_partitions(first)) == 1, "the moved partition's lag is no longer reported by the first"


def test_a_config_the_broker_refuses_is_reported_not_claimed(settings):
    ensure_topics(settings, [settings.topic_raw])
    admin = make_admin(settings)
    try:
        [state] = inspect(admin, settings, [settings.topic_raw])
        refused = dataclasses.replace(state, wanted_configs={"retention.ms": "-5"})  # below the broker's -1
        [line] = reconcile(admin, settings, [refused])
        [after] = inspect(admin, settings, [settings.topic_raw])
    finally:
        admin.close()
    assert line.startswith(f"{settings.topic_raw}: could not set retention.ms=-5: ") and "at least -1" in line
    assert after.configs["retention.ms"] == state.configs["retention.ms"]
