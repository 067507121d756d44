"""wirestream on a broker that wants SASL credentials or TLS: the pipeline runs; wrong ones stop it.

The settings for a secured cluster (``WIRESTREAM_SECURITY_PROTOCOL``, ``_SASL_MECHANISM``,
``_SASL_USERNAME``, ``_SASL_PASSWORD``, ``_SSL_CAFILE``) reach every client wirestream makes:
admin, idempotent and transactional producers, group consumers. The tests start a local broker of
their own with a SASL_PLAINTEXT listener (``WIRESTREAM_BROKER_SASL_PORT``: PLAIN and both SCRAM
hashes), a TLS listener (``WIRESTREAM_BROKER_SSL_PORT``: a certificate signed by a local CA, and a
client certificate checked when offered) and a SASL_SSL listener, the two together as managed Kafka
services have them; and one whose TLS listener requires a client certificate
(``WIRESTREAM_BROKER_SSL_CLIENT_AUTH=required``), as clusters that authenticate clients by certificate do.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from schemas import Article
from tests.conftest import SEEDS
from tests.factories import stories
from tests.stages import Copy
from wirestream.broker import LocalBroker
from wirestream.broker.tls import TlsFiles
from wirestream.cli import main
from wirestream.clients import make_admin, read_topic
from wirestream.config import Settings
from wirestream.connect import EXIT_UNAVAILABLE, BrokerUnavailable
from wirestream.producer import publish
from wirestream.testing import TEST_BROKER_PORT, export_settings, running_stage, settings_env, wait_for

PORT = TEST_BROKER_PORT + 300
USER, PASSWORD = "pipeline", "s3cret-for-tests"


def _own_broker(kafka: str, settings: Settings) -> Iterator[LocalBroker]:
    """A local broker of these tests' own, started fresh and removed after."""
    if kafka != f"127.0.0.1:{TEST_BROKER_PORT}":
        pytest.skip(f"the session uses the broker at {kafka}; these tests start a local broker with SASL and TLS")
    broker = LocalBroker(settings)
    broker.stop()
    broker.reset()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        broker.reset()


@pytest.fixture(scope="module")
def secured_broker(kafka):
    yield from _own_broker(kafka, Settings(
        broker_port=PORT, broker_controller_port=PORT + 1, broker_sasl_port=PORT + 2, broker_ssl_port=PORT + 3,
        broker_sasl_ssl_port=PORT + 4, sasl_username=USER, sasl_password=PASSWORD,
    ))


def _secured(settings: Settings, broker: LocalBroker, protocol: str, mechanism: str | None = None,
             password: str = PASSWORD) -> Settings:
    """``settings`` for a client of ``broker``'s ``protocol`` listener (SASL as ``mechanism``)."""
    update: dict = {"bootstrap_servers": broker.bootstrap_for(protocol), "security_protocol": protocol}
    if protocol.startswith("SASL"):
        update.update(sasl_mechanism=mechanism, sasl_username=USER, sasl_password=password)
    if protocol.endswith("SSL"):
        update["ssl_cafile"] = str(broker.ssl_cafile)
    return settings.model_copy(update=update)


@pytest.mark.parametrize(("protocol", "mechanism"),
                         [("SASL_PLAINTEXT", "SCRAM-SHA-512"), ("SSL", None), ("SASL_SSL", "SCRAM-SHA-512")])
def test_a_stage_runs_exactly_once(secured_broker, settings, protocol, mechanism):
    """Topic creation, the idempotent producer, the group consumer and transactions, all secured."""
    settings = _secured(settings, secured_broker, protocol, mechanism)
    assert settings.delivery == "exactly_once"
    sent = stories(0, 3)
    with running_stage(Copy(settings), settings) as stage:
        assert publish(sent, settings).ok
        wait_for(lambda: stage.metrics.records_out == 3, timeout=60, what=f"the stage copying over {protocol}")
    copied = read_topic(settings, settings.topic_ner, expect=3)
    assert sorted(Article.model_validate_json(r.value).id for r in copied) == sorted(a.id for a in sent)


@pytest.mark.parametrize(("protocol", "mechanism"),
                         [("SASL_PLAINTEXT", "PLAIN"), ("SASL_PLAINTEXT", "SCRAM-SHA-256"), ("SASL_SSL", "PLAIN")])
def test_the_tools_work_over_the_other_mechanisms(secured_broker, settings, monkeypatch, capsys, protocol, mechanism):
    export_settings(_secured(settings, secured_broker, protocol, mechanism), monkeypatch.setenv)
    assert main(["topics", "--apply"]) == 0
    assert f"{settings.topic_raw}: created with 3 partitions" in capsys.readouterr().out


def test_plain_clients_on_the_sasl_listener_are_not_let_in(secured_broker, settings):
    plain = settings.model_copy(update={"bootstrap_servers": secured_broker.bootstrap_for("SASL_PLAINTEXT"),
                                        "connect_timeout_ms": 3000})
    with pytest.raises(BrokerUnavailable, match="a TLS or SASL listener closes plain connections"):
        make_admin(plain)


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_wrong_credentials_stop_the_command_with_the_brokers_reason(secured_broker, settings, protocol):
    """Exit 69 and one line that says why; kafka-python alone would say only "Unable to bootstrap"."""
    wrong = _secured(settings, secured_broker, protocol, "SCRAM-SHA-512", password="not-the-password")
    wrong = wrong.model_copy(update={"connect_timeout_ms": 600_000})  # a refusal is final: nothing waits for this
    done = subprocess.run([sys.executable, "-m", "wirestream", "produce", str(SEEDS)], env=settings_env(wrong),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == EXIT_UNAVAILABLE, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"wirestream produce: no Kafka broker let a client in at {wrong.bootstrap_servers} "
                           f"over {protocol} (SCRAM-SHA-512 as {USER}); the broker refused the "
                           "credentials: Authentication failed"), last
    assert "not-the-password" not in done.stderr


def test_a_client_that_does_not_trust_the_brokers_certificate_says_so(secured_broker, settings):
    untrusting = _secured(settings, secured_broker, "SSL").model_copy(
        update={"ssl_cafile": None, "connect_timeout_ms": 600_000})
    with pytest.raises(BrokerUnavailable, match=r"over SSL; this client does not trust the broker's certificate .*"
                                                 "CERTIFICATE_VERIFY_FAILED"):
        make_admin(untrusting)


def test_mutual_tls_a_stage_runs_with_a_client_certificate_and_a_stranger_is_refused(secured_broker, settings):
    """The broker checks an offered client certificate against its CA: the CA's passes, a self-signed one does not."""
    tls = TlsFiles.ensure(secured_broker.ssl_cafile.parent)
    own = tls.client("pipeline")
    settings = _secured(settings, secured_broker, "SSL").model_copy(
        update={"ssl_certfile": str(own), "ssl_keyfile": str(own)})
    sent = stories(0, 1)
    with running_stage(Copy(settings), settings) as stage:
        assert publish(sent, settings).ok
        wait_for(lambda: stage.metrics.records_out == 1, timeout=60, what="the stage copying over mutual TLS")

    stranger = tls.client("stranger", signed=False)
    refused = settings.model_copy(update={"ssl_certfile": str(stranger), "ssl_keyfile": str(stranger),
                                          "connect_timeout_ms": 600_000})
    refusal = r"over SSL; the broker refused the client certificate \(WIRESTREAM_SSL_CERTFILE\): .*CERTIFICATE_UNKNOWN"
    with pytest.raises(BrokerUnavailable, match=refusal):
        make_admin(refused)


@pytest.fixture(scope="module")
def mtls_broker(kafka):
    """A broker whose TLS listener lets in only clients with a certificate of the local CA."""
    yield from _own_broker(kafka, Settings(broker_port=PORT + 10, broker_controller_port=PORT + 11,
                                           broker_ssl_port=PORT + 13, broker_ssl_client_auth="required"))


def test_where_a_client_certificate_is_required_one_without_stops_at_once_saying_so(mtls_broker, settings):
    tls = TlsFiles.ensure(mtls_broker.ssl_cafile.parent)
    own = tls.client("pipeline")
    settings = _secured(settings, mtls_broker, "SSL").model_copy(update={"connect_timeout_ms": 600_000})
    admin = make_admin(settings.model_copy(update={"ssl_certfile": str(own), "ssl_keyfile": str(own)}))
    try:
        assert admin.describe_cluster()["cluster_id"]
    finally:
        admin.close()
    with pytest.raises(BrokerUnavailable, match=r"over SSL; the broker refused the client certificate "
                                                 r"\(WIRESTREAM_SSL_CERTFILE\): .*BAD_CERTIFICATE"):
        make_admin(settings)
