"""The shipped NER model, loaded once for the NLP tests."""

from __future__ import annotations

import pytest

from wirestream.config import models_dir
from wirestream.nlp.inference import TokenClassifier

NER_MODEL = models_dir() / "wirestream-ner"


@pytest.fixture(scope="session")
def ner() -> TokenClassifier:
    return TokenClassifier.load(NER_MODEL)
