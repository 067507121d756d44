"""The local cluster's shape and each node's server.properties, without starting a JVM."""

from pathlib import Path

import pytest

from wirestream.broker.cluster import LocalCluster
from wirestream.config import Settings


def properties(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(broker_home=tmp_path, broker_port=29092, broker_controller_port=29093)


def test_three_brokers_share_one_dedicated_controller_by_default(settings):
    cluster = LocalCluster(settings, nodes=3)
    assert list(cluster.nodes) == [1, 2, 3] and list(cluster.controllers) == [101]
    configs = {node_id: properties(cluster.node(node_id)._write_config()) for node_id in (1, 2, 3, 101)}
    for node_id in (1, 2, 3):
        config = configs[node_id]
        port = 29092 + 10 * (node_id - 1)
        assert config["process.roles"] == "broker"
        assert config["listeners"] == config["advertised.listeners"] == f"PLAINTEXT://127.0.0.1:{port}"
        assert config["controller.quorum.voters"] == "101@127.0.0.1:29093"
        assert (config["offsets.topic.replication.factor"], config["transaction.state.log.replication.factor"],
                config["transaction.state.log.min.isr"], config["min.insync.replicas"]) == ("3", "3", "2", "2")
    controller = configs[101]
    assert (controller["process.roles"], controller["listeners"]) == ("controller", "CONTROLLER://127.0.0.1:29093")
    assert "advertised.listeners" not in controller and "inter.broker.listener.name" not in controller
    assert len({cluster.node(n).data_dir for n in (1, 2, 3, 101)}) == 4


def test_combined_nodes_are_each_a_voter(settings):
    cluster = LocalCluster(settings, nodes=3, controllers=0)
    assert cluster.controllers == {}
    config = properties(cluster.node(2)._write_config())
    assert config["process.roles"] == "broker,controller"
    assert config["listeners"] == "PLAINTEXT://127.0.0.1:29102,CONTROLLER://127.0.0.1:29103"
    assert config["controller.quorum.voters"] == "1@127.0.0.1:29093,2@127.0.0.1:29103,3@127.0.0.1:29113"


def test_a_cluster_is_found_again_by_what_its_start_wrote_down(settings):
    assert LocalCluster.recorded(settings) is None
    home = settings.broker_home / "cluster-29092"
    home.mkdir()
    (home / "nodes").write_text("3")
    (home / "controllers").write_text("3")
    found = LocalCluster.recorded(settings)
    assert found is not None and found.size == 3 and list(found.controllers) == [101, 102, 103]
    assert found.node(1).voters == "101@127.0.0.1:29093,102@127.0.0.1:29103,103@127.0.0.1:29113"


def test_an_unknown_node_id_names_the_ones_there_are(settings):
    with pytest.raises(ValueError, match="no node 4: this cluster's nodes are 1, 2, 3, 101"):
        LocalCluster(settings, nodes=3).node(4)
