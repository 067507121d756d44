"""CI has no Docker engine, so check the compose file against the code it runs."""

from pathlib import Path

import pytest
import yaml

from services import REGISTRY
from tests.conftest import ROOT
from wirestream.cli import build_parser
from wirestream.config import ENV_PREFIX, Settings

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
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
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == 1
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1


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
        Settings.model_validate({field: value})  # and its value is valid


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
