"""A running stage serves Prometheus metrics, health and readiness; `wirestream status` reads the broker."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.stages import Copy
from wirestream.cli import main
from wirestream.producer import publish
from wirestream.status import collect
from wirestream.testing import committed_offsets, export_settings, running_stage, wait_for
from wirestream.wirefile import parse_wire_text


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_metrics_health_readiness_and_status(settings, monkeypatch, capsys):
    settings = settings.model_copy(update={"metrics_port": 0})
    sent = [parse_wire_text(f"date 2025-03-01 Lima, Mar 1 (EFE) Story {n}.", source="t") for n in range(3)]
    assert publish(sent, settings).ok
    with running_stage(Copy(settings)) as runner:
        wait_for(lambda: runner.metrics_port, timeout=60, what="the metrics port")
        base = f"http://127.0.0.1:{runner.metrics_port}"
        wait_for(lambda: get(f"{base}/ready")[0] == 200, timeout=60, what="ready")
        assert get(f"{base}/health") == (200, "ok\n")
        wait_for(lambda: sum(committed_offsets(settings, "copy", settings.topic_raw).values()) == 3, timeout=60,
                 what="all three committed")
        status, metrics = get(f"{base}/metrics")
        assert status == 200
        labels = f'instance="{settings.instance_id}",stage="copy"'
        assert f"wirestream_records_in_total{{{labels}}} 3.0" in metrics
        assert f"wirestream_records_out_total{{{labels}}} 3.0" in metrics
        assert "wirestream_batch_seconds_bucket" in metrics and "wirestream_process_seconds_count" in metrics
        lag = f'wirestream_consumer_lag{{instance="{settings.instance_id}",partition="0",stage="copy",'
        assert f'{lag}topic="{settings.topic_raw}"}} 0.0' in metrics

        [status] = collect(settings, {"copy": settings.topic_raw}, interval_s=0.5)
        assert status.state == "Stable" and len(status.members) == 1
        assert status.total_lag == 0 and sum(status.committed.values()) == 3

        export_settings(settings, monkeypatch.setenv)
        assert main(["status", "--interval", "0"]) == 0
        printed = capsys.readouterr().out
        assert "ner" in printed and "storage" in printed and "sentiment" in printed
        # a stage run as module:Class, named the same way
        assert main(["status", "tests.stages:Copy", "--interval", "0", "--json"]) == 0
        [copy] = json.loads(capsys.readouterr().out)
        assert (copy["stage"], copy["group"], copy["state"], copy["total_lag"]) == (
            "copy", settings.group_id("copy"), "Stable", 0)
        assert main(["status", "nope"]) == 2
        assert "no stage 'nope'" in capsys.readouterr().err
