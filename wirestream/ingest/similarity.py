"""Near-duplicate detection: MinHash over word shingles, with boilerplate paragraphs left out.

Wire agencies re-issue stories with small edits; those are versions of one story. Different
stories often share boilerplate (an agency footer, a standard background paragraph); sharing it
must not make them one story. So paragraphs already seen in another story's text are removed
before shingling when the rest of the text is long enough to judge on, and the Jaccard threshold
is high.

>>> a = signature("Oslo, Jan 1 (NTB) Heavy snow closed the airport on Monday. Flights resume Tuesday.")
>>> b = signature("Oslo, Jan 1 (NTB) Heavy snow closed the airport on Monday. Flights resume on Wednesday.")
>>> c = signature("Lima, Jan 1 (EFE) Peru's congress passed the budget after a long night of debate.")
>>> similarity(a, b) > 0.4 > similarity(a, c)
True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

NUM_PERM = 128
BANDS = 32  # 32 bands of 4 rows: pairs above ~0.6 Jaccard almost always share a band
ROWS = NUM_PERM // BANDS
SHINGLE = 5
_PRIME = (1 << 61) - 1
_WORD = re.compile(r"\w+", re.UNICODE)
_PERMS = [
    (int.from_bytes(hashlib.blake2b(f"a{i}".encode(), digest_size=8).digest(), "big") % _PRIME or 1,
     int.from_bytes(hashlib.blake2b(f"b{i}".encode(), digest_size=8).digest(), "big") % _PRIME)
    for i in range(NUM_PERM)
]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def paragraphs(text: str) -> list[str]:
    """Paragraphs (blank-line separated, else lines), whitespace-normalised, with 8 words or more."""
    parts = re.split(r"\n\s*\n", text) if "\n\n" in text else text.split("\n")
    return [" ".join(p.split()) for p in parts if len(p.split()) >= 8]


def paragraph_key(paragraph: str) -> str:
    return hashlib.sha1(" ".join(words(paragraph)).encode()).hexdigest()[:20]


def shingles(text: str, size: int = SHINGLE) -> set[int]:
    tokens = words(text)
    if len(tokens) < size:
        tokens = tokens + [""] * (size - len(tokens))
    return {
        int.from_bytes(hashlib.blake2b(" ".join(tokens[i : i + size]).encode(), digest_size=8).digest(), "big")
        for i in range(len(tokens) - size + 1)
    }


def signature(text: str) -> list[int]:
    """The MinHash signature of the text's shingles (128 values)."""
    values = shingles(text)
    return [min((a * v + b) % _PRIME for v in values) for a, b in _PERMS]


def similarity(one: list[int], other: list[int]) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets."""
    return sum(x == y for x, y in zip(one, other, strict=True)) / NUM_PERM


def bands(sig: list[int]) -> list[str]:
    """LSH band keys: texts that share one are candidates for a full comparison."""
    return [
        f"{band}:" + hashlib.blake2b(repr(sig[band * ROWS : (band + 1) * ROWS]).encode(), digest_size=8).hexdigest()
        for band in range(BANDS)
    ]


def without_boilerplate(text: str, boilerplate: Iterable[str]) -> str:
    """The text minus paragraphs whose key is in ``boilerplate``, unless too little would be left."""
    known = set(boilerplate)
    kept = [p for p in paragraphs(text) if paragraph_key(p) not in known]
    remaining = " ".join(kept)
    return remaining if len(words(remaining)) >= 25 else text
