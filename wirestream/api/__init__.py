"""The read-only HTTP API and live page over the article store (``wirestream serve``)."""

from wirestream.api.app import create_app

__all__ = ["create_app"]
