"""wirestream on a broker that wants SASL credentials or TLS: the pipeline runs; wrong ones stop it.

The settings for a secured cluster (``WIRESTREAM_SECURITY_PROTOCOL``, ``_SASL_MECHANISM``,
``_SASL_USERNAME``, ``_SASL_PASSWORD``, ``_SSL_CAFILE``) reach every client wirestream makes:
admin, idempotent and transactional producers, group consumers. The tests start a local broker of
their own with a SASL_PLAINTEXT listener (``WIRESTREAM_BROKER_SASL_PORT``: PLAIN and both SCRAM
hashes) and a TLS listener (``WIRESTREAM_BROKER_SSL_PORT``: a certificate signed by a local CA).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from schemas import Article
from tests.conftest import SEEDS
from tests.stages import Copy
from wirestream.broker import LocalBroker
from wirestream.cli import main
from wirestream.clients import make_admin, read_topic
from wirestream.config import Settings
from wirestream.connect import EXIT_UNAVAILABLE, BrokerUnavailable
from wirestream.producer import publish
from wirestream.testing import TEST_BROKER_PORT, export_settings, running_stage, settings_env, wait_for
from wirestream.wirefile import parse_wire_text

PORT = TEST_BROKER_PORT + 300
USER, PASSWORD = "pipeline", "s3cret-for-tests"


@pytest.fixture(scope="module")
def secured_broker(kafka):
    if kafka != f"127.0.0.1:{TEST_BROKER_PORT}":
        pytest.skip(f"the session uses the broker at {kafka}; these tests start a local broker with SASL and TLS")
    broker = LocalBroker(Settings(broker_port=PORT, broker_controller_port=PORT + 1, broker_sasl_port=PORT + 2,
                                  broker_ssl_port=PORT + 3, sasl_username=USER, sasl_password=PASSWORD))
    broker.stop()
    broker.reset()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        broker.reset()


def _over_sasl(settings: Settings, broker: LocalBroker, mechanism: str, password: str = PASSWORD) -> Settings:
    return settings.model_copy(update={
        "bootstrap_servers": broker.sasl_bootstrap, "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism, "sasl_username": USER, "sasl_password": password,
    })


def _over_tls(settings: Settings, broker: LocalBroker) -> Settings:
    return settings.model_copy(update={
        "bootstrap_servers": broker.ssl_bootstrap, "security_protocol": "SSL", "ssl_cafile": str(broker.ssl_cafile),
    })


@pytest.mark.parametrize("secured", ["SCRAM-SHA-512", "TLS"])
def test_a_stage_runs_exactly_once(secured_broker, settings, secured):
    """Topic creation, the idempotent producer, the group consumer and transactions, all over SCRAM or TLS."""
    if secured == "TLS":
        settings = _over_tls(settings, secured_broker)
    else:
        settings = _over_sasl(settings, secured_broker, secured)
    assert settings.delivery == "exactly_once"
    sent = [parse_wire_text(f"date 2025-03-01 Lima, Mar 1 (EFE) Story {n}.", source="t") for n in range(3)]
    with running_stage(Copy(settings), settings) as stage:
        assert publish(sent, settings).ok
        wait_for(lambda: stage.metrics.records_out == 3, timeout=60, what="the stage copying over SASL")
    copied = read_topic(settings, settings.topic_ner, expect=3)
    assert sorted(Article.model_validate_json(r.value).id for r in copied) == sorted(a.id for a in sent)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_the_tools_work_over_the_other_mechanisms(secured_broker, settings, monkeypatch, capsys, mechanism):
    export_settings(_over_sasl(settings, secured_broker, mechanism), monkeypatch.setenv)
    assert main(["topics", "--apply"]) == 0
    assert f"{settings.topic_raw}: created with 3 partitions" in capsys.readouterr().out


def test_plain_clients_on_the_sasl_listener_are_not_let_in(secured_broker, settings):
    plain = settings.model_copy(update={"bootstrap_servers": secured_broker.sasl_bootstrap, "connect_timeout_ms": 3000})
    with pytest.raises(BrokerUnavailable, match="a TLS or SASL listener closes plain connections"):
        make_admin(plain)


def test_wrong_credentials_stop_the_command_with_the_brokers_reason(secured_broker, settings):
    """Exit 69 and one line that says why; kafka-python alone would say only "Unable to bootstrap"."""
    wrong = _over_sasl(settings, secured_broker, "SCRAM-SHA-512", password="not-the-password")
    wrong = wrong.model_copy(update={"connect_timeout_ms": 3000})
    done = subprocess.run([sys.executable, "-m", "wirestream", "produce", str(SEEDS)], env=settings_env(wrong),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_UNAVAILABLE, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"wirestream produce: no Kafka broker let a client in at {secured_broker.sasl_bootstrap} "
                           f"over SASL_PLAINTEXT (SCRAM-SHA-512 as {USER}) within 3 s; the broker refused the "
                           "credentials: Authentication failed"), last
    assert "not-the-password" not in done.stderr


def test_a_client_that_does_not_trust_the_brokers_certificate_says_so(secured_broker, settings):
    untrusting = _over_tls(settings, secured_broker).model_copy(update={"ssl_cafile": None, "connect_timeout_ms": 3000})
    with pytest.raises(BrokerUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        make_admin(untrusting)
