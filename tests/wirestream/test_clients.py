"""Client set-up: what matters for throughput, topic configs, and a clear error when no broker answers."""

from __future__ import annotations

import logging


def test_kafka_python_checks_record_batches_with_the_c_crc32c():
    """Without the ``crc32c`` package kafka-python computes CRC32C in Python: ~15 ms per 100 KB each way."""
    from kafka.record import util

    assert util.crc32c_c is not None
    assert util.calc_crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value


def test_topics_are_created_with_their_retention_and_dead_letters_are_kept_until_deleted(settings):
    from kafka.admin import ConfigResource, ConfigResourceType

    from wirestream.clients import ensure_topics, make_admin

    settings = settings.model_copy(update={"topic_retention_ms": 3_600_000})
    ensure_topics(settings)
    admin = make_admin(settings)
    try:
        topics = (settings.topic_raw, settings.topic_dead_letter)
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])["topic"]
    finally:
        admin.close()
    assert described[settings.topic_raw]["retention.ms"]["value"] == "3600000"
    assert described[settings.topic_dead_letter]["retention.ms"]["value"] == "-1"


def test_topics_are_still_created_where_the_cluster_refuses_to_describe_their_configs(settings, monkeypatch):
    from kafka.errors import TopicAuthorizationFailedError

    from wirestream import clients

    def refused(*_args, **_kwargs):
        raise TopicAuthorizationFailedError("DescribeConfigs denied by the cluster's ACLs")

    monkeypatch.setattr(clients, "inspect_topics", refused)
    clients.ensure_topics(settings)
    clients.ensure_topics(settings.model_copy(update={"partitions": 9}))  # the drift check is skipped, not fatal
    admin = clients.make_admin(settings)
    try:
        assert set(settings.pipeline_topics) <= set(admin.list_topics())
    finally:
        admin.close()


def test_a_port_where_nothing_listens_is_reported_as_such(tmp_path):
    import socket

    import pytest

    from wirestream.clients import make_reader
    from wirestream.config import Settings
    from wirestream.connect import BrokerUnavailable

    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(bootstrap_servers=f"127.0.0.1:{port}", connect_timeout_ms=1000)
    with pytest.raises(BrokerUnavailable, match=f"at 127.0.0.1:{port} over PLAINTEXT within 1 s; nothing answered"):
        make_reader(settings)


def test_a_client_that_cannot_connect_leaves_no_network_thread_behind():
    """kafka-python starts a consumer's and an admin client's IO thread before bootstrapping, and
    leaves it running when the bootstrap fails; a process retrying through an outage gained one per try."""
    import socket
    import threading

    import pytest

    from wirestream.clients import make_admin, make_producer, make_reader
    from wirestream.config import Settings
    from wirestream.connect import BrokerUnavailable

    def io_threads() -> set[threading.Thread]:
        return {thread for thread in threading.enumerate() if thread.name.startswith("kafka-io")}

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(bootstrap_servers=f"127.0.0.1:{port}", connect_timeout_ms=500)
    before = io_threads()
    for make in (make_reader, make_admin, make_producer, make_admin):
        with pytest.raises(BrokerUnavailable):
            make(settings)
    assert io_threads() - before == set()


def _logged(message: str, name: str = "kafka.net.manager") -> logging.LogRecord:
    """A WARNING record as kafka-python's network code logs it."""
    return logging.LogRecord(name, logging.WARNING, "", 0, message, None, None)


def test_the_reason_kept_is_the_one_that_says_most_not_the_last():
    """The broker's refusal outlives later disconnects and the timeout of the attempt the deadline cut short."""
    from wirestream.connect import _LastReason

    handler = _LastReason()
    logged = ["Bootstrap connection to b-0 failed: KafkaConnectionError: socket disconnected (backoff 0.05 secs)",
              "Connection failed: [Error 58] SaslAuthenticationFailedError: Authentication failed",
              "Bootstrap connection to b-0 failed: KafkaConnectionError: socket disconnected (backoff 0.1 secs)",
              "Bootstrap connection to b-0 failed: KafkaTimeoutError: Request timed out after 69 ms"]
    for message in logged:
        handler.emit(_logged(message))
    assert handler.reason == "[Error 58] SaslAuthenticationFailedError: Authentication failed"


def test_a_refusal_that_waiting_cannot_change_ends_the_bootstrap_at_its_next_retry():
    """Wrong credentials stop the client at once; a broker that is merely not answering is waited for."""
    import threading

    import pytest

    from wirestream.config import Settings
    from wirestream.connect import BrokerUnavailable, _LastReason


    settings = Settings(bootstrap_servers="b:9094", security_protocol="SASL_SSL", sasl_username="app",
                        sasl_mechanism="SCRAM-SHA-512")
    handler = _LastReason(settings)
    handler.emit(_logged("Bootstrap connection to b-0 failed: KafkaConnectionError: [Errno 111] ECONNREFUSED "
                        "(backoff 0.05 secs)"))  # not up yet: retried
    handler.emit(_logged("Connection failed: [Error 58] SaslAuthenticationFailedError: Authentication failed",
                        "kafka.net.connection"))  # inside the connection's own failure path: not there
    with pytest.raises(BrokerUnavailable) as stopped:
        handler.emit(_logged("Bootstrap connection to b-0 failed: KafkaConnectionError: socket disconnected"))
    assert str(stopped.value) == ("BrokerUnavailable: no Kafka broker let a client in at b:9094 over SASL_SSL "
                                  "(SCRAM-SHA-512 as app); the broker refused the credentials: Authentication failed")

    go, raised = threading.Event(), []
    quiet_box: list = []

    def another_clients_io_thread() -> None:  # running before the handler: its bootstrap is its own
        go.wait(5)
        try:
            quiet_box[0].emit(_logged("Bootstrap connection to b-0 failed: [Error 58] SaslAuthenticationFailedError: "
                                      "nope"))
        except BrokerUnavailable as error:
            raised.append(error)

    other = threading.Thread(target=another_clients_io_thread)
    other.start()
    quiet = _LastReason(settings)
    quiet_box.append(quiet)
    go.set()
    other.join()
    assert not raised
    assert quiet.permanent and not quiet.stopped


def test_a_kafka_python_that_raises_the_refusal_itself_gets_the_same_one_line_error():
    import pytest
    from kafka.errors import SaslAuthenticationFailedError

    from wirestream.config import Settings
    from wirestream.connect import BrokerUnavailable, connecting

    settings = Settings(bootstrap_servers="b:9094", security_protocol="SASL_PLAINTEXT", sasl_username="app")
    refused = r"over SASL_PLAINTEXT \(PLAIN as app\); the broker refused the credentials: Authentication failed: bad$"
    with pytest.raises(BrokerUnavailable, match=refused), connecting(settings):
        raise SaslAuthenticationFailedError("Authentication failed: bad")


def test_a_refusal_is_heard_where_the_application_hides_kafka_pythons_warnings(caplog):
    """An application that sets ``kafka`` to ERROR still gets the reason and the early stop, and still
    sees only kafka-python's errors."""
    import pytest

    from wirestream.config import Settings
    from wirestream.connect import BrokerUnavailable, connecting

    settings = Settings(bootstrap_servers="b:9094", security_protocol="SASL_PLAINTEXT", sasl_username="app")
    kafka, manager = logging.getLogger("kafka"), logging.getLogger("kafka.net.manager")
    saved = kafka.level
    kafka.setLevel(logging.ERROR)
    try:
        refused = pytest.raises(BrokerUnavailable, match="the broker refused the credentials: Authentication failed")
        with caplog.at_level(logging.DEBUG), refused, connecting(settings):
            manager.error("Connection failed: [Error 58] SaslAuthenticationFailedError: Authentication failed")
            manager.warning("Bootstrap connection to b-0 failed: KafkaConnectionError: socket disconnected")
        assert [record.levelname for record in caplog.records if record.name == manager.name] == ["ERROR"]
        assert (manager.level, manager.propagate) == (logging.NOTSET, True)
        assert not manager.isEnabledFor(logging.WARNING)
    finally:
        kafka.setLevel(saved)
