"""``wirestream topics``: the pipeline's topics as the broker has them, against what the settings ask.

Why: wirestream creates each topic once, with ``WIRESTREAM_PARTITIONS`` partitions and the configs of
:meth:`Settings.topic_configs`. Settings changed later reach no topic that already exists, and two
of them matter in production. A stage's group gives each partition of its input topic to one
consumer, so a stage scales to as many processes as that topic has partitions; the rest sit idle.
And ``retention.ms`` bounds how far back ``reset-offsets`` can reprocess.

``inspect`` reads what the broker has; ``reconcile`` (``--apply``) closes the gap: it creates
missing topics, sets the configs that differ (IncrementalAlterConfigs, so no other config of the
topic is touched) and adds partitions up to the setting. It never removes partitions (Kafka
cannot) and never changes the replication factor (a reassignment, left to the cluster's tools).

Adding partitions is safe for wirestream: records are keyed by story, and a story's later
versions may now land on another partition than its first, but storage marks a story's latest
version by version number, not by arrival order. Consumers start new partitions from their
beginning (``auto_offset_reset=earliest``), and running processes see them within
``WIRESTREAM_METADATA_MAX_AGE_MS``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions
from kafka.errors import TopicAlreadyExistsError

from wirestream.config import Settings

SHOWN = ("min.insync.replicas", "retention.ms")  # shown for every topic, whether the settings set them or not


@dataclass(frozen=True)
class TopicState:
    """One topic on the broker next to what the settings ask for it."""

    name: str
    partitions: int | None  # None: the topic does not exist
    wanted_partitions: int
    replicas: int | None = None
    wanted_replicas: int = 1
    configs: dict[str, str | None] = field(default_factory=dict)  # the broker's, for SHOWN and wanted keys
    wanted_configs: dict[str, str] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.partitions is not None

    @property
    def config_changes(self) -> dict[str, str]:
        """The wanted configs the topic does not have yet.

        >>> TopicState("t", 6, 6, configs={"retention.ms": "604800000"},
        ...            wanted_configs={"retention.ms": "-1"}).config_changes
        {'retention.ms': '-1'}
        """
        return {key: value for key, value in self.wanted_configs.items() if self.configs.get(key) != value}

    @property
    def partitions_to_add(self) -> int:
        """How many partitions ``--apply`` adds (none to a missing topic: it is created whole)."""
        return max(0, self.wanted_partitions - self.partitions) if self.partitions is not None else 0

    def drift(self) -> list[str]:
        """What differs from the settings, one line each; empty when the topic is in step.

        >>> TopicState("t", 3, 6, replicas=1).drift()
        ['3 partitions, settings ask for 6: at most 3 consumers of one group get work']
        >>> TopicState("t", None, 6).drift()
        ['missing']
        """
        if not self.exists:
            return ["missing"]
        lines = []
        if self.partitions_to_add:
            lines.append(f"{self.partitions} partitions, settings ask for {self.wanted_partitions}: "
                         f"at most {self.partitions} consumers of one group get work")
        if self.replicas is not None and self.replicas < self.wanted_replicas:
            lines.append(f"{self.replicas} replicas, settings ask for {self.wanted_replicas} "
                         "(not changed here: reassign with the cluster's tools)")
        lines.extend(f"{key}={self.configs.get(key)}, settings ask for {value}"
                     for key, value in self.config_changes.items())
        return lines


def inspect(admin: KafkaAdminClient, settings: Settings, topics: list[str] | None = None,
            existing: set[str] | None = None) -> list[TopicState]:
    """Each of ``topics`` (default: the pipeline's) as the broker has it, next to the settings
    (``existing``: the broker's topic names, where the caller has just listed them)."""
    names = list(dict.fromkeys(topics or settings.pipeline_topics))
    existing = set(admin.list_topics()) if existing is None else existing
    present = [name for name in names if name in existing]
    described = {topic["name"]: topic["partitions"] for topic in admin.describe_topics(present)} if present else {}
    configs: dict[str, dict[str, Any]] = {}
    if present:
        resources = [ConfigResource(ConfigResourceType.TOPIC, name,
                                    configs=dict.fromkeys([*SHOWN, *settings.topic_configs(name)]))
                     for name in present]
        configs = admin.describe_configs(resources, config_filter="all").get("topic", {})
    states = []
    for name in names:
        partitions = described.get(name)
        states.append(TopicState(
            name=name,
            partitions=len(partitions) if partitions is not None else None,
            wanted_partitions=settings.partitions,
            replicas=min((len(p["replica_nodes"]) for p in partitions), default=None) if partitions else None,
            wanted_replicas=settings.replication_factor,
            configs={key: entry.get("value") for key, entry in configs.get(name, {}).items()},
            wanted_configs=settings.topic_configs(name),
        ))
    return states


def short_of_replicas(admin: KafkaAdminClient, topic: str) -> list[str]:
    """``topic[p]: N in-sync of min.insync.replicas M`` for each partition that cannot take an
    ``acks=all`` write now: what a producer's delivery timeout hides behind "Expiring N record(s)"."""
    partitions = admin.describe_topics([topic])[0]["partitions"]
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs={"min.insync.replicas": None})
    entry = admin.describe_configs([resource], config_filter="all").get("topic", {}).get(topic, {})
    min_isr = int((entry.get("min.insync.replicas") or {}).get("value") or 1)
    return [f"{topic}[{p['partition_index']}]: {len(p['isr_nodes'])} in-sync of min.insync.replicas {min_isr}"
            for p in sorted(partitions, key=lambda p: p["partition_index"]) if len(p["isr_nodes"]) < min_isr]


def create(admin: KafkaAdminClient, settings: Settings, names: list[str]) -> None:
    """Create ``names`` with the settings' partitions, replicas and configs (one that exists already is fine)."""
    spec = {name: {"num_partitions": settings.partitions, "replication_factor": settings.replication_factor,
                   "configs": settings.topic_configs(name)} for name in names}
    with contextlib.suppress(TopicAlreadyExistsError):  # another process created them first
        admin.create_topics(spec, wait_for_metadata=True)


def reconcile(admin: KafkaAdminClient, settings: Settings, states: list[TopicState]) -> list[str]:
    """Create the missing topics, set the differing configs, add the missing partitions; what was done."""
    done = []
    missing = [state.name for state in states if not state.exists]
    if missing:
        create(admin, settings, missing)
        done.extend(f"{name}: created with {settings.partitions} partitions" for name in missing)
    changes = [state for state in states if state.exists and state.config_changes]
    if changes:
        results = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, state.name,
                                                      configs=state.config_changes) for state in changes])
        for state in changes:  # the broker answers per topic; a refusal is an answer, not an exception
            result = str(results.get("topic", {}).get(state.name, "no answer"))
            asked = " ".join(f"{key}={value}" for key, value in state.config_changes.items())
            done.append(f"{state.name}: set {asked}" if result == "OK"
                        else f"{state.name}: could not set {asked}: {result}")
    grow = {state.name: NewPartitions(total_count=state.wanted_partitions)
            for state in states if state.partitions_to_add}
    if grow:
        admin.create_partitions(grow)
        done.extend(f"{state.name}: {state.partitions} -> {state.wanted_partitions} partitions"
                    for state in states if state.partitions_to_add)
    return done


def table(states: list[TopicState]) -> str:
    """The topics as ``wirestream topics`` prints them."""
    lines = [f"{'topic':<32} {'partitions':>10} {'replicas':>8}  configs / drift from the settings"]
    for state in states:
        partitions = "-" if state.partitions is None else str(state.partitions)
        replicas = "-" if state.replicas is None else str(state.replicas)
        shown = " ".join(f"{key}={value}" for key, value in sorted(state.configs.items()))
        lines.append(f"{state.name:<32} {partitions:>10} {replicas:>8}  {shown or '-'}")
        lines.extend(f"{'':<32} {'':>10} {'':>8}  ! {line}" for line in state.drift())
    return "\n".join(lines)
