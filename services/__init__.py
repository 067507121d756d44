"""The pipeline's stages, one small module each; :data:`REGISTRY` maps stage names to classes.

A stage is a :class:`wirestream.service.Service`: it enriches a batch and knows nothing of
Kafka. ``wirestream run <stage>`` runs it under the shared runtime.
"""

from __future__ import annotations

from services.ner import NerService
from services.sentiment import SentimentService
from services.storage import StorageService
from wirestream.config import Settings
from wirestream.service import Service

#: The pipeline in order: raw -> ner -> sentiment -> storage.
REGISTRY: dict[str, type[Service]] = {
    service.name: service for service in (NerService, SentimentService, StorageService)
}


def input_topics(settings: Settings) -> dict[str, str]:
    """Each stage's input topic under ``settings`` (stage name -> topic), in pipeline order."""
    return {name: service(settings).input_topic for name, service in REGISTRY.items()}


__all__ = ["REGISTRY", "NerService", "SentimentService", "StorageService", "input_topics"]
