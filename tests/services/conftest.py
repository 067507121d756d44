"""The built-in stages, set up once for the module tests that run them without a broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.ner import NerService
from wirestream.config import Settings


@pytest.fixture(scope="session")
def ner() -> Iterator[NerService]:
    service = NerService(Settings())
    service.setup()
    yield service
    service.close()
