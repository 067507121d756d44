"""The training tests share the NLP tests' model fixture."""

from tests.wirestream.nlp.conftest import ner  # noqa: F401 - a fixture
