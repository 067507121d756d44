"""wirestream on a real three-node Kafka cluster: every topic replicated three times, min ISR 2.

One module shares one cluster (``wirestream broker start --nodes 3``: three KRaft brokers and a
dedicated controller, JVMs on loopback from :data:`~wirestream.testing.TEST_CLUSTER_PORT`),
started fresh and stopped after.
It proves, against the real processes:

* the seed articles go through NER, sentiment and storage on the cluster;
* 300 articles, 2 processes per NLP stage, survive the **SIGKILL** of the node that leads every
  input partition, mid-batch, and its restart; and, separately, a rolling restart of all three nodes:
  each article stored once, each id once per exactly-once topic for ``read_committed`` readers,
  the audit's LOST 0, and no transaction left open on any partition;
* an ``acks=all`` producer with two of the three nodes down is refused with NOT_ENOUGH_REPLICAS,
  and loses nothing once they are back.

After each test every node is running and every replica in sync again, for the next.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from kafka.admin import NewTopic
from kafka.errors import NotEnoughReplicasError

from services import input_topics
from services.ner import NerService
from services.sentiment import SentimentService
from services.storage import StorageService
from tests.chaos import assert_each_article_stored_and_published_once, chaos_articles, start_pipeline, wait_all_stored
from tests.conftest import SEEDS
from wirestream.broker.cluster import LocalCluster
from wirestream.cli import main
from wirestream.clients import ensure_topics, make_admin, make_consumer, make_producer, read_topic
from wirestream.config import Settings
from wirestream.db import open_store
from wirestream.producer import publish, read_inputs
from wirestream.testing import isolated_settings, local_test_cluster, running_stage, wait_for
from wirestream.topics import inspect
from wirestream.transactions import open_transactions, pipeline_partitions


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    cluster = local_test_cluster(nodes=3)
    cluster.stop()
    cluster.reset()  # a fresh cluster: no topics, offsets or transactions from an earlier run
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def on_cluster(cluster: LocalCluster, tmp_path) -> Iterator[Settings]:
    """This test's own topics on the cluster, three replicas each; every node back in sync after."""
    yield isolated_settings(cluster.bootstrap, tmp_path, replication_factor=3, transaction_timeout_ms=10_000)
    for node_id, status in cluster.status().nodes.items():
        if not status.running:
            cluster.start_node(node_id)
    cluster.wait_in_sync(timeout_s=180)


def no_open_transactions(settings: Settings) -> list:
    admin = make_admin(settings)
    try:
        return open_transactions(admin, pipeline_partitions(admin, settings, input_topics(settings)))
    finally:
        admin.close()


def test_the_pipelines_topics_and_the_internal_topics_are_replicated_on_every_node(cluster, on_cluster):
    settings = on_cluster
    ensure_topics(settings)
    producer = make_producer(settings, transactional_id=f"{settings.group_prefix}-replication-check")
    producer.init_transactions()  # creates __transaction_state
    producer.begin_transaction()
    producer.send(settings.topic_raw, b"{}")
    producer.commit_transaction()
    producer.close()
    consumer = make_consumer(settings, settings.group_id("replication-check"))
    consumer.subscribe([settings.topic_raw])
    wait_for(lambda: consumer.poll(timeout_ms=500) or consumer.assignment(), what="a group assignment")
    consumer.commit()  # creates __consumer_offsets
    consumer.close()

    admin = make_admin(settings)
    try:
        states = {state.name: state for state in inspect(admin, settings)}
        internal = {state.name: state for state in inspect(admin, settings, ["__consumer_offsets",
                                                                             "__transaction_state"])}
    finally:
        admin.close()
    for name in settings.pipeline_topics:
        assert states[name].replicas == 3 and states[name].configs["min.insync.replicas"] == "2", states[name]
    for name, state in internal.items():
        assert state.replicas == 3, name
    assert internal["__transaction_state"].configs["min.insync.replicas"] == "2"
    placed = cluster.partitions([settings.topic_raw])
    assert {state["leader"] for state in placed.values()} <= {1, 2, 3}
    assert all(sorted(state["replicas"]) == [1, 2, 3] for state in placed.values())


def test_the_seed_articles_go_through_every_stage_on_the_cluster(on_cluster):
    settings = on_cluster
    ensure_topics(settings)
    sent = publish(read_inputs([str(SEEDS)]), settings)
    assert sent.ok and len(sent.sent) == 4
    store = open_store(settings)
    with running_stage(NerService(settings)), running_stage(SentimentService(settings)), \
            running_stage(StorageService(settings)):
        wait_for(lambda: store.count() == 4, timeout=300, what="the 4 seed articles stored")
    for article in sent.sent:
        stored = store.get(article.id).article
        assert stored.entities and stored.tone is not None
        assert [step.service for step in stored.trace] == ["produce", "ner", "sentiment"]
    assert not read_topic(settings, settings.topic_dead_letter)


def test_the_cli_reports_every_node_and_restarts_one_by_id(cluster, on_cluster, monkeypatch, capsys):
    monkeypatch.setenv("WIRESTREAM_BROKER_PORT", str(cluster.settings.broker_port))
    monkeypatch.setenv("WIRESTREAM_BROKER_CONTROLLER_PORT", str(cluster.settings.broker_controller_port))
    monkeypatch.delenv("WIRESTREAM_BROKER_NODES", raising=False)
    assert main(["broker", "status"]) == 0  # the cluster found by what its start wrote down
    said = capsys.readouterr().out
    assert "cluster of 3 brokers, 1 controller(s), 3 broker(s) running" in said, said
    for node_id in (1, 2, 3):
        assert f"node {node_id}: broker running" in said
    assert f"node 101: controller running (pid {cluster.node(101).pid()}) at 127.0.0.1:" in said

    pid = cluster.node(3).pid()
    assert main(["broker", "restart", "--node", "3"]) == 0
    assert "node 3: broker running" in capsys.readouterr().out
    assert cluster.node(3).pid() not in (None, pid)
    assert main(["broker", "status", "--node", "7"]) == 2
    assert "no node 7: this cluster's nodes are 1, 2, 3, 101" in capsys.readouterr().err


def chaos_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"partitions": 4, "batch_size": 8})


def raw_topic_led_by(settings: Settings, node_id: int) -> None:
    """The raw topic with ``node_id`` first in every partition's replicas: its preferred leader everywhere."""
    others = [n for n in (1, 2, 3) if n != node_id]
    assignments = {p: [node_id, *(others if p % 2 else others[::-1])] for p in range(settings.partitions)}
    admin = make_admin(settings)
    try:
        admin.create_topics([NewTopic(settings.topic_raw, -1, -1, replica_assignments=assignments,
                                      topic_configs=settings.topic_configs(settings.topic_raw))])
    finally:
        admin.close()
    ensure_topics(settings)


def test_300_articles_survive_the_sigkill_of_the_node_leading_every_input_partition(
        cluster, on_cluster, processes, tmp_path):
    settings = chaos_settings(on_cluster)
    raw_topic_led_by(settings, node_id=1)
    wait_for(lambda: set(cluster.leaders(settings.topic_raw).values()) == {1}, what="node 1 leading the raw topic")
    logs = tmp_path / "stage-logs"
    start_pipeline(settings, processes, logs, names=[("ner-a", "ner"), ("ner-b", "ner"), ("sentiment-a", "sentiment"),
                                                      ("sentiment-b", "sentiment"), ("storage-a", "storage")])
    articles = chaos_articles(tag="leader-kill")
    assert publish(articles, settings).ok

    store = open_store(settings)
    wait_for(lambda: store.count() >= 20, timeout=300, what="the pipeline under way")
    assert store.count() < 300, "records must still be in flight when the leader goes"
    assert cluster.kill_node(1)
    wait_for(lambda: 1 not in cluster.leaders(settings.topic_raw).values(), timeout=60,
             what="the raw topic's leadership moved off the killed node")
    time.sleep(5)  # the stages run on two nodes for a while
    cluster.start_node(1)

    wait_all_stored(settings, articles, logs)
    assert_each_article_stored_and_published_once(settings, articles)
    wait_for(lambda: not no_open_transactions(settings), timeout=60, what="no transaction left open",
             explain=lambda: "\n".join(map(str, no_open_transactions(settings))))


def test_300_articles_survive_a_rolling_restart_of_all_three_nodes(cluster, on_cluster, processes, tmp_path):
    settings = chaos_settings(on_cluster)
    ensure_topics(settings)
    logs = tmp_path / "stage-logs"
    start_pipeline(settings, processes, logs, names=[("ner-a", "ner"), ("ner-b", "ner"), ("sentiment-a", "sentiment"),
                                                      ("sentiment-b", "sentiment"), ("storage-a", "storage")])
    articles = chaos_articles(tag="rolling")
    assert publish(articles, settings).ok

    store = open_store(settings)
    wait_for(lambda: store.count() >= 20, timeout=300, what="the pipeline under way")
    assert store.count() < 300, "records must still be in flight when the restarts begin"
    for node_id in (1, 2, 3):
        cluster.restart_node(node_id)
        cluster.wait_in_sync(timeout_s=180)  # min ISR 2: the next node goes only once this one caught up

    wait_all_stored(settings, articles, logs)
    assert_each_article_stored_and_published_once(settings, articles)
    wait_for(lambda: not no_open_transactions(settings), timeout=60, what="no transaction left open",
             explain=lambda: "\n".join(map(str, no_open_transactions(settings))))


def test_acks_all_with_two_of_three_nodes_down_is_refused_and_nothing_is_lost(cluster, on_cluster):
    settings = on_cluster.model_copy(update={"partitions": 1, "delivery_timeout_ms": 15_000})
    ensure_topics(settings)
    articles = chaos_articles(40, tag="acks")
    assert publish(articles[:20], settings).ok

    leader = cluster.leaders(settings.topic_raw)[0]
    for node_id in [n for n in (1, 2, 3) if n != leader]:  # controlled shutdowns: the ISR shrinks to the leader
        cluster.stop_node(node_id)
    refused = publish(articles[20:], settings)
    assert isinstance(refused.error, NotEnoughReplicasError), refused.error
    assert "NotEnoughReplicas" in str(refused.error)
    assert refused.sent == []

    for node_id in (1, 2, 3):
        if node_id != leader:
            cluster.start_node(node_id)
    cluster.wait_in_sync(timeout_s=180)
    assert publish(articles[20:], settings).ok
    on_topic = [r.value for r in read_topic(settings, settings.topic_raw, expect=40, timeout=60)]
    ids = {a.id for a in articles}
    assert {value for value in on_topic if any(i.encode() in value for i in ids)} and len(on_topic) >= 40
    found = {i for i in ids if any(i.encode() in value for value in on_topic)}
    assert found == ids, f"lost: {sorted(ids - found)[:5]}"
