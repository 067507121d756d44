"""The pipeline's stages, one small module each; :data:`REGISTRY` maps stage names to classes.

A stage is a :class:`wirestream.service.Service`: it enriches a batch and knows nothing of
Kafka. ``wirestream run <stage>`` runs it under the shared runtime.
"""

from __future__ import annotations

from services.storage import StorageService
from wirestream.service import Service

REGISTRY: dict[str, type[Service]] = {
    StorageService.name: StorageService,
}

__all__ = ["REGISTRY", "StorageService"]
