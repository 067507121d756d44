"""Settings for every wirestream process, read from the environment.

One prefix, ``WIRESTREAM_``, for everything: ``WIRESTREAM_BOOTSTRAP_SERVERS``,
``WIRESTREAM_BATCH_SIZE`` and so on. The defaults run on one laptop against the
local broker that ``wirestream broker start`` brings up.

>>> Settings(batch_size=8).group_id("storage")
'wirestream-storage'
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "WIRESTREAM_"


def _default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def cache_dir() -> Path:
    """Where downloads and the local broker live: outside any checkout, shared by all of them."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wirestream"


def models_dir() -> Path:
    """Where the models wirestream ships are: the first of these that exists.

    1. ``WIRESTREAM_MODELS_DIR``, when set (a folder holding ``wirestream-ner`` and the others);
    2. ``models/`` of the checkout this package runs from (a clone, or ``pip install -e``);
    3. ``<prefix>/share/wirestream/models``, where an installed wheel puts them (its data files).

    Without any of them, the checkout's path is returned, so the error names where they were expected.
    """
    configured = os.environ.get(f"{ENV_PREFIX}MODELS_DIR")
    if configured:
        return Path(configured)
    checkout = Path(__file__).resolve().parent.parent / "models"
    installed = Path(sys.prefix) / "share" / "wirestream" / "models"
    return installed if not checkout.exists() and installed.exists() else checkout


def accurate_models_dir() -> Path:
    """Where ``wirestream-training build accurate`` puts the models too large to ship.

    ``WIRESTREAM_ACCURATE_MODELS_DIR``, else ``models`` in the cache folder (outside any checkout).
    """
    return Path(os.environ.get(f"{ENV_PREFIX}ACCURATE_MODELS_DIR") or cache_dir() / "models")


TIER_MODELS = {"accurate": {"stance_model": "wirestream-stance-accurate"}}  # the models a tier swaps in


class Settings(BaseSettings):
    """Everything a wirestream process can be told; each field is ``WIRESTREAM_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True)

    # --- Kafka connection -------------------------------------------------------------
    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    client_id: str = "wirestream"
    connect_timeout_ms: int = Field(
        default=30_000, ge=100,
        description="How long a process waits for a broker to let its first client in; then it stops with "
        "the reason (wrong credentials, nothing listening, ...) and exit code 69.",
    )
    metadata_max_age_ms: int = Field(
        default=300_000, ge=100,
        description="How often clients refresh topic metadata: running stages and producers see partitions "
        "added to a topic (wirestream topics --apply) within this.",
    )

    # --- topics -------------------------------------------------------------------------
    topic_raw: str = "wirestream.raw"
    topic_ner: str = "wirestream.ner"
    topic_enriched: str = "wirestream.enriched"
    topic_dead_letter: str = "wirestream.dead-letter"
    storage_input_topic: str | None = Field(
        default=None, description="Topic storage consumes; defaults to the enriched topic, the pipeline's last."
    )
    partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    min_insync_replicas: int | None = Field(
        default=None, ge=1,
        description="min.insync.replicas of the topics wirestream creates; unset: 2 where the replication factor "
        "is 3 or more (acks=all then means two copies), else the broker's default.",
    )
    topic_retention_ms: int | None = Field(
        default=None, ge=-1,
        description="retention.ms of the topics wirestream creates (how far back reset-offsets can reprocess); "
        "unset: the broker's default (7 days); -1: forever.",
    )
    dead_letter_retention_ms: int = Field(
        default=-1, ge=-1,
        description="retention.ms of the dead-letter topic: forever by default, since a dead letter waits for a "
        "person and must not expire before one looks.",
    )

    # --- consumer runtime --------------------------------------------------------------
    group_prefix: str = "wirestream"
    instance_id: str = Field(default_factory=_default_instance_id)
    batch_size: int = Field(default=64, ge=1)
    poll_timeout_ms: int = Field(default=500, ge=1)
    batch_linger_ms: int = Field(
        default=100, ge=0,
        description="After the first records arrive, keep polling this long for a fuller batch (models run "
        "faster on full batches; 0: take what one poll returns).",
    )
    session_timeout_ms: int = Field(default=45_000, ge=1000)
    heartbeat_interval_ms: int = Field(default=3_000, ge=100)
    max_poll_interval_ms: int = Field(default=300_000, ge=1000)
    grace_period_s: float = Field(default=5.0, ge=0, description="How long SIGTERM waits for a batch.")
    retry_backoff_initial_s: float = Field(default=0.5, gt=0)
    retry_backoff_max_s: float = Field(default=10.0, gt=0)
    max_body_chars: int = Field(default=200_000, ge=1)
    max_failures_in_a_row: int = Field(
        default=100,
        ge=0,
        description="More records than this failing in a stage's process one after another is the stage's "
        "fault, not theirs: the batch is held uncommitted and retried, as in an outage, instead of "
        "dead-lettering the stream (0: no limit).",
    )
    delivery: Literal["exactly_once", "at_least_once"] = Field(
        default="exactly_once",
        description="exactly_once: each NLP stage's batch (outputs, dead letters, input offsets) is one Kafka "
        "transaction; at_least_once: acknowledged sends, then the offset commit.",
    )
    transaction_timeout_ms: int = Field(
        default=10_000, ge=1000,
        description="How long the broker waits before aborting a dead worker's open transaction.",
    )
    delivery_timeout_ms: int = Field(
        default=120_000, ge=1000,
        description="How long a producer keeps retrying a record (a leader moving, too few in-sync replicas) "
        "before it fails it (NOT_ENOUGH_REPLICAS named where the topic lacks in-sync replicas); "
        "`wirestream produce` waits this long at most.",
    )
    hanging_transaction_check_s: float = Field(
        default=30.0, ge=0,
        description="How often a stage looks for hanging transactions (open on its partitions, ended by no "
        "coordinator) of this deployment and aborts them; 0: never. See wirestream.transactions.",
    )

    fault_commit_delay_ms: int = Field(
        default=0, ge=0,
        description="Fault injection for chaos tests: hold each transaction open this long before committing.",
    )
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535,
        description="Serve /metrics (Prometheus), /health and /ready on this port (0: any free port).",
    )
    metrics_host: str = Field(default="127.0.0.1", description="Interface for the metrics port.")
    log_format: Literal["text", "json"] = Field(default="text", description="json: one JSON object per line.")

    # --- models and inference ---------------------------------------------------------------
    ner_model: str = Field(
        default_factory=lambda: str(models_dir() / "wirestream-ner"),
        description="Hugging Face model id or local directory of the NER model.",
    )
    sentiment_model: str = Field(
        default_factory=lambda: str(models_dir() / "wirestream-sentiment"),
        description="Sequence classifier for sentence and article tone.",
    )
    stance_model: str = Field(
        default_factory=lambda: str(models_dir() / "wirestream-stance"),
        description="Target-dependent sentiment classifier for entity stance.",
    )
    model_tier: Literal["default", "accurate"] = Field(
        default="default",
        description="'accurate': the stages load the models `wirestream-training build accurate` built (the mpnet "
        "stance model) in place of the shipped ones, unless a model setting names another.",
    )
    nlp_window: int = Field(default=256, ge=8, description="Sub-tokens per inference window, [CLS]/[SEP] included.")
    nlp_overlap: int = Field(default=64, ge=0, description="Sub-tokens shared by neighbouring windows.")
    nlp_max_tokens: int = Field(default=8192, ge=8, description="Upper bound on padded tokens per model call.")
    nlp_device: str = Field(default="cpu", description="'cpu', 'cuda', 'cuda:1' or 'auto'.")
    nlp_precision: Literal["float32", "bfloat16", "float16", "int8", "fast"] = Field(
        default="float32",
        validation_alias=AliasChoices("WIRESTREAM_NLP_PRECISION", "WIRESTREAM_NLP_DTYPE", "nlp_precision"),
        description="Numeric precision of the NLP models: float32 (the cards' figures), bfloat16 or float16 on a "
        "GPU; on a CPU, bfloat16 where it has bfloat16 instructions (AVX512-BF16, AMX), else int8 (dynamic "
        "quantization); 'fast' picks, per model, the fastest of those this device runs that the model's card offers; "
        "each one's test figures are in the cards.",
    )
    torch_threads: int | None = Field(default=None, ge=1, description="torch CPU threads; default: torch's choice.")
    allocator: Literal["auto", "tcmalloc", "system"] = Field(
        default="auto",
        description="Memory allocator of 'wirestream run': tcmalloc where installed (auto), always, or glibc's "
        "(system). torch on glibc page-faults its buffers afresh every batch; see wirestream.allocator.",
    )

    # --- storage --------------------------------------------------------------------------
    database_path: Path = Path(".wirestream/wirestream.db")
    database_url: str | None = Field(
        default=None, description="postgresql://user:password@host/db to store in PostgreSQL instead of SQLite."
    )
    database_timeout_s: float = Field(default=2.0, gt=0, description="SQLite busy timeout; PostgreSQL connect timeout.")
    topic_stored: str = Field(default="wirestream.stored", description="Storage's at-least-once 'stored' events.")

    # --- ingestion (``wirestream ingest``) --------------------------------------------------
    ingest_state_path: Path = Field(default=Path(".wirestream/ingest.db"),
                                    description="Feed validators, seen articles and story signatures.")
    ingest_interval_s: float = Field(default=60.0, gt=0, description="How often each feed is polled.")
    ingest_max_backoff_s: float = Field(default=900.0, gt=0, description="Longest wait after repeated failures.")
    ingest_timeout_s: float = Field(default=10.0, gt=0, description="HTTP timeout per feed fetch.")
    ingest_similarity: float = Field(default=0.6, gt=0, le=1,
                                     description="MinHash Jaccard at which an article is a new version of a story.")
    ingest_languages: list[str] = Field(default_factory=lambda: ["en"], description="Languages the pipeline serves.")
    ingest_other_languages: Literal["publish", "divert", "drop"] = Field(
        default="divert", description="Articles in other languages: publish marked, divert to their topic, or drop.")
    topic_other_languages: str = "wirestream.other-languages"

    # --- HTTP API and live page (``wirestream serve``) ---------------------------------------
    api_host: str = Field(default="127.0.0.1", description="Interface the API binds; 0.0.0.0 to expose it.")
    api_port: int = Field(default=8000, ge=1, le=65535)

    # --- local broker (``wirestream broker``) ----------------------------------------------
    broker_home: Path = Field(default_factory=lambda: cache_dir() / "kafka")
    broker_port: int = 9092
    broker_controller_port: int = 9093
    broker_heap: str = "512m"
    broker_nodes: int = Field(
        default=1, ge=1, le=9,
        description="Local broker: how many KRaft brokers `wirestream broker start` runs "
        "(3: a replicated cluster on broker_port, +10, +20); `--nodes` overrides it.",
    )
    broker_controllers: int = Field(
        default=1, ge=0, le=5,
        description="Local cluster: its dedicated KRaft controllers (on broker_controller_port, +10, ...); "
        "0 makes every broker a voter too (combined mode: two of three lost is a lost quorum). "
        "`--controllers` overrides it.",
    )
    broker_sasl_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="Local broker: also listen for SASL_PLAINTEXT clients here (PLAIN, SCRAM-SHA-256, "
        "SCRAM-SHA-512), accepting WIRESTREAM_SASL_USERNAME / WIRESTREAM_SASL_PASSWORD, to try a deployment's "
        "authentication settings on a laptop.",
    )
    broker_ssl_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="Local broker: also listen for TLS clients here, with a certificate signed by a local CA "
        "(`wirestream broker start` prints where its certificate is, for WIRESTREAM_SSL_CAFILE).",
    )
    broker_sasl_ssl_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="Local broker: also listen for SASL_SSL clients here (TLS as on the SSL port, SASL as on the "
        "SASL port), the combination managed Kafka services use.",
    )
    broker_ssl_client_auth: Literal["requested", "required"] = Field(
        default="requested",
        description="Local broker: on the SSL port, check a client certificate when one is offered, or let in "
        "only clients with one signed by the local CA (mutual TLS, as clusters that authenticate by certificate).",
    )

    @model_validator(mode="after")
    def _tier_models(self) -> Settings:
        """A tier swaps in its models for the model settings left unset (one that is set wins)."""
        for name, folder in TIER_MODELS.get(self.model_tier, {}).items():
            if name not in self.model_fields_set:
                setattr(self, name, str(accurate_models_dir() / folder))
        return self

    def group_id(self, stage: str) -> str:
        """Consumer group of a stage: every process of the stage joins it and shares the partitions."""
        return f"{self.group_prefix}-{stage}"

    def kafka_options(self) -> dict[str, Any]:
        """Connection options shared by every kafka-python client (TLS/SASL included)."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.security_protocol,
            "client_id": self.client_id,
            "metadata_max_age_ms": self.metadata_max_age_ms,
            "bootstrap_timeout_ms": self.connect_timeout_ms,
        }
        optional = {
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.sasl_username,
            "sasl_plain_password": self.sasl_password,
            "ssl_cafile": self.ssl_cafile,
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
        }
        options.update({key: value for key, value in optional.items() if value is not None})
        return options

    def topic_configs(self, topic: str) -> dict[str, str]:
        """The configs wirestream creates ``topic`` with (``wirestream topics --apply`` sets them on existing ones).

        >>> Settings(replication_factor=3, topic_retention_ms=86_400_000).topic_configs("wirestream.raw")
        {'min.insync.replicas': '2', 'retention.ms': '86400000'}
        >>> Settings().topic_configs("wirestream.dead-letter")
        {'retention.ms': '-1'}
        """
        configs = {}
        insync = self.min_insync_replicas or (2 if self.replication_factor >= 3 else None)
        if insync is not None:
            configs["min.insync.replicas"] = str(insync)
        retention = self.dead_letter_retention_ms if topic == self.topic_dead_letter else self.topic_retention_ms
        if retention is not None:
            configs["retention.ms"] = str(retention)
        return configs

    @property
    def pipeline_topics(self) -> list[str]:
        """Every topic the pipeline uses, created up front with ``partitions`` partitions.

        >>> Settings().pipeline_topics[-1]  # where ingestion diverts articles in other languages
        'wirestream.other-languages'
        """
        return [self.topic_raw, self.topic_ner, self.topic_enriched, self.topic_stored, self.topic_dead_letter,
                self.topic_other_languages]
