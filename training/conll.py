"""CoNLL-2003 documents, turned into plain text with the character span of every token.

Training and evaluation both go through text (tokens joined by spaces, sentences by
newlines), so the model sees exactly what the inference layer gives it for an article.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")
LABELS = ("O", *(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I")))


@dataclass
class Document:
    """One ``-DOCSTART-`` document: sentences of (token, IOB2 tag)."""

    sentences: list[list[tuple[str, str]]] = field(default_factory=list)

    def text(self) -> tuple[str, list[list[tuple[int, int]]]]:
        """The document as text, and each sentence's token character spans in it."""
        parts: list[str] = []
        spans: list[list[tuple[int, int]]] = []
        position = 0
        for number, sentence in enumerate(self.sentences):
            if number:
                parts.append("\n")
                position += 1
            sentence_spans = []
            for index, (token, _) in enumerate(sentence):
                if index:
                    parts.append(" ")
                    position += 1
                sentence_spans.append((position, position + len(token)))
                parts.append(token)
                position += len(token)
            spans.append(sentence_spans)
        return "".join(parts), spans


def read_conll(path: Path) -> list[Document]:
    """Documents of a CoNLL-2003 file (``token POS chunk NER`` per line)."""
    documents: list[Document] = []
    sentence: list[tuple[str, str]] = []

    def flush() -> None:
        if sentence:
            if not documents:
                documents.append(Document())
            documents[-1].sentences.append(list(sentence))
            sentence.clear()

    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("-DOCSTART-"):
            flush()
            documents.append(Document())
        elif not line.strip():
            flush()
        else:
            columns = line.split()
            sentence.append((columns[0], columns[-1]))
    flush()
    return [doc for doc in documents if doc.sentences]


def entities(tags: list[str]) -> set[tuple[int, int, str]]:
    """Entity spans (first token, end token, type) of an IOB sequence, conlleval's convention.

    >>> sorted(entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]))
    [(0, 2, 'PER'), (3, 4, 'LOC'), (4, 5, 'LOC'), (5, 6, 'ORG')]
    """
    found = set()
    start, kind = None, None
    for index, tag in enumerate([*tags, "O"]):
        prefix, _, tag_type = tag.partition("-")
        continues = prefix == "I" and tag_type == kind
        if start is not None and not continues:
            found.add((start, index, kind))
            start, kind = None, None
        if prefix == "B" or (prefix == "I" and not continues):
            start, kind = index, tag_type
    return found
