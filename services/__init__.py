"""The pipeline's stages, one small module each; :data:`REGISTRY` maps stage names to classes.

A stage is a :class:`wirestream.service.Service`: it enriches a batch and knows nothing of
Kafka. ``wirestream run <stage>`` runs it under the shared runtime.
"""

from __future__ import annotations

from services.ner import NerService
from services.sentiment import SentimentService
from services.storage import StorageService
from wirestream.service import Service

#: The pipeline in order: raw -> ner -> sentiment -> storage.
REGISTRY: dict[str, type[Service]] = {
    service.name: service for service in (NerService, SentimentService, StorageService)
}

__all__ = ["REGISTRY", "NerService", "SentimentService", "StorageService"]
