"""Settings come from the environment under one prefix."""

import os

import pytest
from pydantic import ValidationError

from wirestream.config import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("WIRESTREAM_"):
            monkeypatch.delenv(name)


def test_settings_read_the_wirestream_prefix(monkeypatch):
    monkeypatch.setenv("WIRESTREAM_BOOTSTRAP_SERVERS", "kafka-a:9092,kafka-b:9092")
    monkeypatch.setenv("WIRESTREAM_PARTITIONS", "12")
    monkeypatch.setenv("WIRESTREAM_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("WIRESTREAM_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("WIRESTREAM_SASL_USERNAME", "svc")
    settings = Settings()
    assert settings.partitions == 12
    options = settings.kafka_options()
    assert options["bootstrap_servers"] == ["kafka-a:9092", "kafka-b:9092"]
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512" and options["sasl_plain_username"] == "svc"
    assert "ssl_cafile" not in options


def test_defaults_run_on_one_laptop():
    settings = Settings()
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert settings.partitions == 6
    assert settings.group_id("storage") == "wirestream-storage"


def test_settings_passed_to_a_subprocess_environment_read_back_the_same(monkeypatch, tmp_path):
    from wirestream.testing import export_settings, isolated_settings

    settings = isolated_settings("127.0.0.1:1", tmp_path, ingest_languages=["en", "de"], metrics_port=0)
    export_settings(settings, monkeypatch.setenv)
    assert Settings() == settings


def test_the_models_precision_is_read_under_either_name_and_checked(monkeypatch):
    monkeypatch.setenv("WIRESTREAM_NLP_DTYPE", "bfloat16")
    assert Settings().nlp_precision == "bfloat16"
    monkeypatch.setenv("WIRESTREAM_NLP_PRECISION", "int8")
    assert Settings().nlp_precision == "int8"  # both set: WIRESTREAM_NLP_PRECISION wins
    assert Settings(nlp_precision="float16").nlp_precision == "float16"
    assert Settings(nlp_precision="fast").nlp_precision == "fast"
    monkeypatch.setenv("WIRESTREAM_NLP_PRECISION", "int4")
    with pytest.raises(ValidationError):
        Settings()


def test_the_models_are_found_in_the_checkout_then_where_a_wheel_installs_them(monkeypatch, tmp_path):
    import sys

    from wirestream import config

    assert config.models_dir() == config.Path(config.__file__).resolve().parent.parent / "models"
    monkeypatch.setenv("WIRESTREAM_MODELS_DIR", str(tmp_path / "mine"))
    assert config.models_dir() == tmp_path / "mine"
    assert Settings().ner_model == str(tmp_path / "mine" / "wirestream-ner")
    monkeypatch.delenv("WIRESTREAM_MODELS_DIR")
    # installed: no checkout beside the package, the wheel's data files under the prefix
    monkeypatch.setattr(config, "__file__", str(tmp_path / "site-packages" / "wirestream" / "config.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    (tmp_path / "venv" / "share" / "wirestream" / "models").mkdir(parents=True)
    assert config.models_dir() == tmp_path / "venv" / "share" / "wirestream" / "models"


def test_the_accurate_tier_swaps_in_its_stance_model_unless_one_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("WIRESTREAM_ACCURATE_MODELS_DIR", str(tmp_path))
    assert Settings().stance_model.endswith("models/wirestream-stance")
    monkeypatch.setenv("WIRESTREAM_MODEL_TIER", "accurate")
    tiered = Settings()
    assert tiered.stance_model == str(tmp_path / "wirestream-stance-accurate")
    assert tiered.ner_model.endswith("models/wirestream-ner")  # the tier has no NER model of its own
    monkeypatch.setenv("WIRESTREAM_STANCE_MODEL", "my-org/stance")
    assert Settings().stance_model == "my-org/stance"
    with pytest.raises(ValidationError):
        Settings(model_tier="huge")


def test_a_tier_that_is_not_built_says_which_command_builds_it(monkeypatch, tmp_path, capsys):
    from wirestream.cli import _explained
    from wirestream.nlp import EXIT_CONFIG, ModelUnavailable

    monkeypatch.setenv("WIRESTREAM_MODEL_TIER", "accurate")
    assert _explained("run", ModelUnavailable(f"no model at {tmp_path}: no such directory")) == EXIT_CONFIG
    assert "`wirestream-training build accurate` builds it" in capsys.readouterr().err
