"""The local broker command: start twice is harmless, status tells the truth."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wirestream.testing import TEST_BROKER_PORT


@pytest.fixture
def local_broker_env(kafka):
    if kafka != f"127.0.0.1:{TEST_BROKER_PORT}":
        pytest.skip(f"the session uses the broker at {kafka}, not the local one")
    env = dict(os.environ)
    env["WIRESTREAM_BROKER_PORT"] = str(TEST_BROKER_PORT)
    env["WIRESTREAM_BROKER_CONTROLLER_PORT"] = str(TEST_BROKER_PORT + 1)
    return env


def _broker(env, action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirestream", "broker", action], env=env,
                          capture_output=True, text=True, timeout=120)


def test_starting_a_running_broker_again_is_harmless(local_broker_env):
    before = _broker(local_broker_env, "status")
    assert before.returncode == 0 and "running" in before.stdout and "answering" in before.stdout
    again = _broker(local_broker_env, "start")
    assert again.returncode == 0, again.stderr
    pid = before.stdout.split("(pid ")[1].split(")")[0]
    assert f"(pid {pid})" in again.stdout, "a second start must not launch a second broker"


def test_a_broker_started_on_another_port_stops_by_its_pid_and_stopping_twice_is_harmless(local_broker_env):
    env = {**local_broker_env, "WIRESTREAM_BROKER_PORT": "19192", "WIRESTREAM_BROKER_CONTROLLER_PORT": "19193"}
    started = _broker(env, "start")
    assert started.returncode == 0, started.stderr
    assert "running" in started.stdout and "127.0.0.1:19192" in started.stdout
    pid = int(started.stdout.split("(pid ")[1].split(")")[0])
    assert "running" in _broker(env, "status").stdout
    assert _broker(env, "stop").stdout.strip() == "broker stopped"
    cmdline = Path(f"/proc/{pid}/cmdline")
    assert not cmdline.exists() or b"kafka.Kafka" not in cmdline.read_bytes(), "the broker's JVM is still there"
    status = _broker(env, "status")
    assert status.returncode == 3 and "stopped" in status.stdout
    assert _broker(env, "stop").stdout.strip() == "no broker was running"


def test_a_port_another_program_holds_stops_the_start_with_one_line(local_broker_env):
    import socket

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        env = {**local_broker_env, "WIRESTREAM_BROKER_PORT": str(port), "WIRESTREAM_BROKER_CONTROLLER_PORT": "19195"}
        started = _broker(env, "start")
    assert started.returncode == 1
    assert started.stderr.strip() == (f"wirestream broker start: port {port} is taken by another program; "
                                      "set WIRESTREAM_BROKER_PORT")
