"""CI has no Docker engine, so check the compose file against the code it runs."""

from pathlib import Path

import pytest
import yaml

from services import REGISTRY
from tests.conftest import ROOT
from wirestream.cli import build_parser
from wirestream.config import ENV_PREFIX, Settings

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
CLUSTER_ENV = dict(line.split("=", 1) for line in (ROOT / "deploy" / "cluster.env").read_text().splitlines()
                   if line and not line.startswith("#"))


def resolved(value: object, env: dict[str, str] | None = None) -> str:
    """A compose value with ``${NAME:-default}`` filled in from ``env``, as ``docker compose`` does.

    >>> resolved("${A:-1}"), resolved("${A:-1}", {"A": "3"}), resolved("x")
    ('1', '3', 'x')
    """
    text = str(value)
    while "${" in text:
        head, rest = text.split("${", 1)
        expression, tail = rest.split("}", 1)
        name, _, default = expression.partition(":-")
        text = head + (env or {}).get(name, default) + tail
    return text
WIRESTREAM_SERVICES = {
    name: spec for name, spec in COMPOSE["services"].items() if spec.get("command", [None])[0] == "wirestream"
}


def test_every_pipeline_stage_has_a_scalable_service_built_from_the_one_dockerfile():
    assert (ROOT / "Dockerfile").exists()
    for stage in REGISTRY:
        assert stage in WIRESTREAM_SERVICES, f"no compose service runs 'wirestream run {stage}'"
        assert WIRESTREAM_SERVICES[stage]["command"] == ["wirestream", "run", stage]
    for name, spec in WIRESTREAM_SERVICES.items():
        assert spec["build"] == ".", name
        if name in REGISTRY:
            assert "container_name" not in spec and "ports" not in spec, f"{name} could not be scaled"


def test_storage_and_the_api_share_a_postgres_and_the_api_is_published_on_localhost_only():
    services = COMPOSE["services"]
    url = services["storage"]["environment"]["WIRESTREAM_DATABASE_URL"]
    assert url.startswith("postgresql://") and url.endswith("@postgres:5432/wirestream")
    assert services["api"]["environment"]["WIRESTREAM_DATABASE_URL"] == url
    assert services["api"]["command"] == ["wirestream", "serve"]
    assert services["api"]["ports"] == ["127.0.0.1:8000:8000"]


def test_the_broker_is_a_kraft_apache_kafka_with_single_node_internal_topics():
    kafka = COMPOSE["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = {key: resolved(value) for key, value in kafka["environment"].items()}
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert "profiles" not in kafka and COMPOSE["services"]["kafka-2"]["profiles"] == ["cluster"]


def test_the_cluster_profile_is_three_brokers_and_a_controller_with_replicated_internal_topics_the_stages_use():
    assert CLUSTER_ENV["COMPOSE_PROFILES"] == "cluster"
    nodes = {name: COMPOSE["services"][name] for name in ("kafka", "kafka-2", "kafka-3")}
    quorum_node = COMPOSE["services"]["controller"]
    controller = {key: resolved(value, CLUSTER_ENV) for key, value in quorum_node["environment"].items()}
    assert quorum_node["profiles"] == ["cluster"]
    assert (controller["KAFKA_PROCESS_ROLES"], controller["KAFKA_LISTENERS"]) == ("controller", "CONTROLLER://:9093")
    quorum = f"{controller['KAFKA_NODE_ID']}@controller:9093"
    assert controller["KAFKA_CONTROLLER_QUORUM_VOTERS"] == quorum
    ids = {controller["KAFKA_NODE_ID"]}
    for name, spec in nodes.items():
        env = {key: resolved(value, CLUSTER_ENV) for key, value in spec["environment"].items()}
        assert (env["KAFKA_PROCESS_ROLES"], env["KAFKA_LISTENERS"]) == ("broker", "PLAINTEXT://:9092")
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["CLUSTER_ID"] == controller["CLUSTER_ID"] == "d2lyZXN0cmVhbS1rYWZrYQ"
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == quorum
        ids.add(env["KAFKA_NODE_ID"])
        assert (env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"], env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"],
                env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"], env["KAFKA_MIN_INSYNC_REPLICAS"]) == ("3", "3", "2", "2")
    assert len(ids) == 4 and len({spec["volumes"][0] for spec in nodes.values()}) == 3
    for name in ("ner", "sentiment", "storage"):
        env = {key: resolved(value, CLUSTER_ENV) for key, value in WIRESTREAM_SERVICES[name]["environment"].items()}
        assert env["WIRESTREAM_BOOTSTRAP_SERVERS"] == "kafka:9092,kafka-2:9092,kafka-3:9092"
        settings = Settings.model_validate({"replication_factor": env["WIRESTREAM_REPLICATION_FACTOR"]})
        assert settings.topic_configs("x")["min.insync.replicas"] == "2"


@pytest.mark.parametrize("name", sorted(WIRESTREAM_SERVICES))
def test_each_command_is_a_real_subcommand(name):
    command = WIRESTREAM_SERVICES[name]["command"]
    try:
        build_parser().parse_args(command[1:])
    except SystemExit as exit_:
        pytest.fail(f"{name}: {' '.join(command)!r} is not a wirestream command ({exit_})")


@pytest.mark.parametrize("name", sorted(WIRESTREAM_SERVICES))
def test_each_setting_passed_is_one_the_services_read(name):
    fields = set(Settings.model_fields)
    for variable, value in WIRESTREAM_SERVICES[name]["environment"].items():
        assert variable.startswith(ENV_PREFIX), f"{name}: {variable} is not a wirestream setting"
        field = variable.removeprefix(ENV_PREFIX).lower()
        assert field in fields, f"{name}: {variable} is not read by any service"
        Settings.model_validate({field: resolved(value)})  # and its value is valid
        Settings.model_validate({field: resolved(value, CLUSTER_ENV)})


def test_dockerfile_copies_every_package_the_services_import():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("wirestream", "schemas", "services"):
        assert f"COPY {package} ./{package}" in dockerfile
    assert Path(ROOT / "pyproject.toml").exists()


def test_prometheus_scrapes_every_stage_on_the_port_the_stages_serve_metrics_on():
    prometheus = COMPOSE["services"]["prometheus"]
    config_file = next(v.split(":")[0] for v in prometheus["volumes"] if v.endswith("prometheus.yml:ro"))
    config = yaml.safe_load((ROOT / config_file).read_text())
    [job] = config["scrape_configs"]
    [discovery] = job["dns_sd_configs"]
    assert set(discovery["names"]) == set(REGISTRY)
    for stage in REGISTRY:
        env = WIRESTREAM_SERVICES[stage]["environment"]
        assert int(env["WIRESTREAM_METRICS_PORT"]) == discovery["port"]
        assert env["WIRESTREAM_METRICS_HOST"] == "0.0.0.0"
