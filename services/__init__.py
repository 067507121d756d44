"""The pipeline's stages, one small module each; :data:`REGISTRY` maps stage names to classes.

A stage is a :class:`wirestream.service.Service`: it enriches a batch and knows nothing of
Kafka. ``wirestream run <stage>`` runs it under the shared runtime.

Stages of your own run under the same runtime (dead letters, delivery guarantees, metrics, scaling
by consumer group) without a change here: ``wirestream run my_alerts:AlertService`` names the class,
and a package that declares it in the entry-point group :data:`PLUGINS` makes it a stage by name,
``wirestream run alerts``, that ``wirestream status``, ``topics`` and ``reset-offsets`` cover too::

    [project.entry-points."wirestream.services"]
    alerts = "my_alerts:AlertService"
"""

from __future__ import annotations

import importlib
import inspect
import logging
from importlib.metadata import entry_points

from services.ner import NerService
from services.sentiment import SentimentService
from services.storage import StorageService
from wirestream.config import Settings
from wirestream.service import Service

log = logging.getLogger(__name__)

#: The pipeline in order: raw -> ner -> sentiment -> storage.
REGISTRY: dict[str, type[Service]] = {
    service.name: service for service in (NerService, SentimentService, StorageService)
}

#: The entry-point group where installed packages declare stages of their own.
PLUGINS = "wirestream.services"


class StageNotFound(LookupError):
    """A stage name or ``module:Class`` that names no usable stage; the message says why."""


def checked(found: object, where: str) -> type[Service]:
    """``found`` if it is a concrete :class:`Service` subclass with a name, else :class:`StageNotFound`.

    >>> checked(NerService, "services.ner:NerService").name
    'ner'
    >>> checked(len, "builtins:len")
    Traceback (most recent call last):
    ...
    services.StageNotFound: builtins:len is not a wirestream.service.Service subclass
    """
    if not (isinstance(found, type) and issubclass(found, Service)):
        raise StageNotFound(f"{where} is not a wirestream.service.Service subclass")
    if inspect.isabstract(found):
        raise StageNotFound(f"{where} does not implement process()")
    if not isinstance(getattr(found, "name", None), str) or not found.name:
        raise StageNotFound(f"{where} has no stage name (set the class attribute `name`)")
    return found


def load(spec: str) -> type[Service]:
    """The stage class ``module:Class`` names, imported.

    >>> load("services.storage:StorageService") is StorageService
    True
    >>> load("services.storage:Nope")
    Traceback (most recent call last):
    ...
    services.StageNotFound: services.storage:Nope: module services.storage has no Nope
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise StageNotFound(f"{spec!r}: give a stage name or module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise StageNotFound(f"{spec}: cannot import {module_name}: {error}") from error
    found: object = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise StageNotFound(f"{spec}: module {module_name} has no {attribute}")
        found = getattr(found, part)
    return checked(found, spec)


def stages() -> dict[str, type[Service]]:
    """The pipeline's stages, then those installed packages declare under :data:`PLUGINS`.

    A declared stage that cannot be loaded, or whose name is already taken, is left out with a
    warning: one broken package must not stop ``wirestream status`` for the rest.
    """
    found = dict(REGISTRY)
    for entry in entry_points(group=PLUGINS):
        try:
            service = checked(entry.load(), entry.value)
        except Exception as error:
            log.warning("stage %r from %s is left out: %s", entry.name, entry.value, error)
            continue
        if service.name in found and found[service.name] is not service:
            log.warning("stage %r from %s is left out: the name %r is taken by %s.%s", entry.name, entry.value,
                        service.name, found[service.name].__module__, found[service.name].__qualname__)
            continue
        if entry.name != service.name:
            log.warning("stage %r from %s is called %r (its `name`), which is what its group is named after",
                        entry.name, entry.value, service.name)
        found[service.name] = service
    return found


def resolve(stage: str) -> type[Service]:
    """The class ``wirestream run`` runs: a stage by name (see :func:`stages`), or ``module:Class``.

    >>> resolve("ner") is NerService
    True
    >>> resolve("nre")
    Traceback (most recent call last):
    ...
    services.StageNotFound: no stage 'nre'; the stages are ner, sentiment, storage (or give module:Class)
    """
    if ":" in stage:
        return load(stage)
    known = stages()
    if stage not in known:
        raise StageNotFound(f"no stage {stage!r}; the stages are {', '.join(known)} (or give module:Class)")
    return known[stage]


def input_topics(settings: Settings, registry: dict[str, type[Service]] | None = None) -> dict[str, str]:
    """Each stage's input topic under ``settings`` (stage name -> topic), in pipeline order.

    ``registry``: the stages to list, by default the pipeline's own (:data:`REGISTRY`).
    """
    return {name: service(settings).input_topic for name, service in (registry or REGISTRY).items()}


def all_topics(settings: Settings, registry: dict[str, type[Service]] | None = None) -> list[str]:
    """The pipeline's topics, then the topics of the other stages in ``registry`` (default :func:`stages`).

    >>> all_topics(Settings(), REGISTRY) == Settings().pipeline_topics
    True
    """
    topics = list(settings.pipeline_topics)
    for service in (registry if registry is not None else stages()).values():
        stage = service(settings)
        topics.extend(topic for topic in (stage.input_topic, stage.output_topic) if topic and topic not in topics)
    return topics


__all__ = [
    "PLUGINS",
    "REGISTRY",
    "NerService",
    "SentimentService",
    "StageNotFound",
    "StorageService",
    "all_topics",
    "input_topics",
    "load",
    "resolve",
    "stages",
]
