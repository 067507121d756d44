"""A casing signal for an uncased encoder, passed in the token type ids.

all-MiniLM-L6-v2 lowercases its input, which throws away the strongest clue for names.
wirestream's models give every sub-token the casing class of the alphanumeric run it
starts in, as its ``token_type_id`` (the model's type vocabulary is widened to 4 for it),
so the model is still a plain ``BertForTokenClassification`` that ``transformers`` loads
alone; only the ids fed to it carry the signal.

>>> text = "NEW DELHI, Feb 26 (IANS) said iPhone 2019"
>>> [casing_class(text, i) for i in (0, 11, 19, 25, 30, 37)]
[2, 1, 2, 0, 3, 3]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from wirestream.nlp.decoding import TextRuns, runs_at
from wirestream.nlp.gazetteer import PLACE, place_flags

LOWER, TITLE, UPPER, OTHER = 0, 1, 2, 3
CASING_CLASSES = 4
_RUN = re.compile(r"[^\W_]+")


@lru_cache(maxsize=65536)  # news repeats its words: most runs of an article were classified before
def _classify(run: str) -> int:
    letters = [c for c in run if c.isalpha()]
    if not letters:
        return OTHER
    if all(c.islower() for c in letters):
        return LOWER
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return UPPER
    if run[0].isupper() and all(c.islower() for c in letters[1:]):
        return TITLE
    return OTHER


def casing_map(text: str) -> list[int]:
    """Casing class of every character's alphanumeric run (punctuation and spaces: LOWER)."""
    classes = [LOWER] * len(text)
    for match in _RUN.finditer(text):
        cls = _classify(match.group())
        classes[match.start() : match.end()] = [cls] * (match.end() - match.start())
    return classes


def casing_class(text: str, position: int) -> int:
    return casing_map(text)[position]


def casing_ids(text: str, offsets: Sequence[tuple[int, int]] | np.ndarray, places: bool = False) -> list[int]:
    """One casing class per sub-token, from the run its first character is in (plus
    :data:`~wirestream.nlp.gazetteer.PLACE` inside a known place name, with ``places``).

    >>> casing_ids("NEW DELHI said iPhone", [(0, 3), (4, 9), (10, 14), (15, 16), (16, 21), (21, 21)])
    [2, 2, 0, 3, 3, 0]
    """
    return casing_array(text, np.asarray(offsets, dtype=np.int64).reshape(-1, 2), places=places).tolist()


def casing_array(text: str, offsets: np.ndarray, runs: TextRuns | None = None, places: bool = False) -> np.ndarray:
    """:func:`casing_ids` as an array, from an (n x 2) offsets array and the text's runs: no per-character work."""
    runs = runs or TextRuns.of(text)
    classes = np.array([*map(_classify, runs.strings), LOWER], dtype=np.int64)  # [-1]: outside any run
    if places:
        classes[:-1] += PLACE * place_flags(text, runs)
    run = runs_at(runs.bounds, offsets[:, 0])
    return np.where(offsets[:, 1] > offsets[:, 0], classes[run], LOWER)
