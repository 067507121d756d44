"""The shipped NER model, loaded once for the NLP tests, and the public data they read."""

from __future__ import annotations

from pathlib import Path

import pytest

from wirestream.config import Settings, models_dir
from wirestream.nlp.inference import TokenClassifier

NER_MODEL = models_dir() / "wirestream-ner"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Settings().data_dir
    if not path.exists():
        pytest.skip(f"the public data is not at {path} (set WIRESTREAM_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def ner() -> TokenClassifier:
    return TokenClassifier.load(NER_MODEL)
