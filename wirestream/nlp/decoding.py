"""From per-sub-token label probabilities to entity spans, on the host, in numpy.

This is the NER stage's host-side work, so it is written per text in a handful of array
operations rather than per word in Python: the probabilities leave the device once per model
call (:mod:`wirestream.nlp.inference`), and everything here runs on plain arrays. A word is a
run of letters and digits joined by inner apostrophes or hyphens ("Sa'ar", "Jaish-e-Mohammed"):
its pieces' probabilities are averaged and the word gets one type, so an entity never ends or
changes type inside a word.

>>> labels = {0: "O", 1: "B-PER", 2: "I-PER"}
>>> decoder = SpanDecoder(labels)
>>> text = "Gideon Sa'ar spoke"
>>> offsets = np.array([(0, 6), (7, 9), (9, 10), (10, 12), (13, 18)])
>>> probs = np.array([[.1, .8, .1], [.2, .1, .7], [.5, .1, .4], [.2, .1, .7], [.9, .05, .05]])
>>> [(s.text, s.label, s.score) for s in decoder.spans(text, offsets, probs)]
[("Gideon Sa'ar", 'PER', 0.75)]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EntitySpan:
    """An entity mention: ``text[start:end]``, its type and the model's mean probability."""

    start: int
    end: int
    label: str
    score: float
    text: str


# Inner apostrophes and hyphens join a word ("Sa'ar", "Jaish-e-Mohammed"); a possessive 's does not.
WORD = re.compile(r"[^\W_]+(?:(?:['’](?![sS]\b)|-)[^\W_]+)*")


def runs_at(bounds: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Index of the run (``bounds``: sorted, disjoint ``[start, end)`` rows) each position falls in, or -1.

    >>> runs_at(match_bounds(WORD, "Sa'ar (IANS)"), np.array([0, 3, 6, 7, 11]))
    array([ 0,  0, -1,  1, -1])
    """
    if len(bounds) == 0:
        return np.full(len(positions), -1, dtype=np.int64)
    index = np.searchsorted(bounds[:, 0], positions, side="right") - 1
    inside = (index >= 0) & (positions < bounds[np.maximum(index, 0), 1])
    return np.where(inside, index, -1)


def match_bounds(pattern: re.Pattern[str], text: str) -> np.ndarray:
    """``[start, end)`` of every match of ``pattern`` in ``text``, as an (n x 2) array."""
    return np.array([match.span() for match in pattern.finditer(text)], dtype=np.int64).reshape(-1, 2)


_RUNS = re.compile(r"([^\W_]+)")  # captured: split() returns the gaps and the runs, alternating
_HYPHEN, _APOSTROPHE, _QUOTE = ord("-"), ord("'"), ord("’")


@dataclass(frozen=True)
class TextRuns:
    """A text's alphanumeric runs and its words (``WORD``), found in one pass over the text.

    Both the casing ids and the word grouping of the decoding need them; a regex pass with a match
    object per word was, twice over, the largest part of the NER stage's host work. ``words`` are
    exactly ``WORD``'s matches: runs joined by one apostrophe (not a possessive ``'s``) or hyphen.

    >>> runs = TextRuns.of("Sa'ar's Jaish-e-Mohammed (IANS)")
    >>> runs.strings, runs.words.tolist() == match_bounds(WORD, "Sa'ar's Jaish-e-Mohammed (IANS)").tolist()
    (['Sa', 'ar', 's', 'Jaish', 'e', 'Mohammed', 'IANS'], True)
    """

    strings: list[str]
    bounds: np.ndarray  # runs x 2: [start, end)
    words: np.ndarray  # words x 2

    @classmethod
    def of(cls, text: str) -> TextRuns:
        return cls.of_texts([text])[0]

    @classmethod
    def of_texts(cls, texts: Sequence[str]) -> list[TextRuns]:
        """:meth:`of` of each text, found in one pass over them all.

        The texts are joined with NUL between them, which is no part of a run and, with a run on
        either side, no joining apostrophe or hyphen, so no run or word crosses from one text to
        the next; each array operation is paid once per call rather than once per text.

        >>> [runs.strings for runs in TextRuns.of_texts(["Sa'ar's plan", "", "Jaish-e-Mohammed"])]
        [['Sa', 'ar', 's', 'plan'], [], ['Jaish', 'e', 'Mohammed']]
        """
        if not texts:
            return []
        joined = "\x00".join(texts)
        parts = _RUNS.split(joined)  # gap, run, gap, ..., run, gap
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        ends = np.cumsum(lengths)
        bounds = np.stack([ends[1::2] - lengths[1::2], ends[1::2]], axis=1).reshape(-1, 2)
        strings = parts[1::2]
        words = bounds
        if strings:
            # run k joins run k + 1 where the gap between them is one apostrophe or hyphen ...
            codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
            after = codes[bounds[:-1, 1]]  # the character after each run but the last
            joined_runs = (lengths[2:-1:2] == 1) & ((after == _HYPHEN) | (after == _APOSTROPHE) | (after == _QUOTE))
            for k in np.flatnonzero(joined_runs & (after != _HYPHEN)).tolist():
                # ... but an apostrophe before a lone s is a possessive: (?![sS]\b)
                joined_runs[k] = not (strings[k + 1] in ("s", "S") and not parts[2 * k + 4].startswith("_"))
            first = np.flatnonzero(np.concatenate(([True], ~joined_runs)))
            last = np.flatnonzero(np.concatenate((~joined_runs, [True])))
            words = np.stack([bounds[first, 0], bounds[last, 1]], axis=1).reshape(-1, 2)
        starts = np.cumsum([0, *(len(text) + 1 for text in texts[:-1])])
        run_cuts = [*np.searchsorted(bounds[:, 0], starts).tolist(), len(bounds)]
        word_cuts = [*np.searchsorted(words[:, 0], starts).tolist(), len(words)]
        return [cls(strings[run_cuts[i] : run_cuts[i + 1]], bounds[run_cuts[i] : run_cuts[i + 1]] - base,
                    words[word_cuts[i] : word_cuts[i + 1]] - base) for i, base in enumerate(starts.tolist())]


def word_groups(text: str, offsets: np.ndarray, runs: TextRuns | None = None) -> np.ndarray:
    """First sub-token of every word (see ``WORD``); a sub-token outside any word is a group alone.

    >>> word_groups("Sa'ar (IANS)", np.array([(0, 2), (2, 3), (3, 5), (6, 7), (7, 11), (11, 12)]))
    array([0, 3, 4, 5])
    >>> word_groups("India's", np.array([(0, 5), (5, 6), (6, 7)]))
    array([0, 1, 2])
    """
    if len(offsets) == 0:
        return np.zeros(0, dtype=np.int64)
    words = runs_at((runs or TextRuns.of(text)).words, offsets[:, 0])
    joins = np.zeros(len(words), dtype=bool)
    joins[1:] = (words[1:] >= 0) & (words[1:] == words[:-1])
    return np.flatnonzero(~joins)


class SpanDecoder:
    """IOB decoding over sub-tokens, one decision per word, for one model's label set.

    A word's type is the one with the most probability mass (B- and I- summed; ties go to the
    first in the model's label order, "O" before all); it begins a new entity where its B- is at
    least as likely as its I-, or where the type changes.
    """

    def __init__(self, id2label: Mapping[int, str]) -> None:
        labels = list(id2label.items())
        label2id = {label: index for index, label in labels}
        self.kinds = ["O", *dict.fromkeys(label[2:] for _, label in labels if label != "O")]
        width = max(id2label) + 1
        # Probability mass of each kind: mean probabilities (words x labels) @ this (labels x kinds).
        self.mass = np.zeros((width, len(self.kinds)))
        self.mass[label2id["O"], 0] = 1.0
        for index, label in labels:
            if label != "O":
                self.mass[index, self.kinds.index(label[2:])] += 1.0
        self.begin = np.array([label2id.get(f"B-{kind}", label2id["O"]) for kind in self.kinds])
        self.inside = np.array([label2id.get(f"I-{kind}", label2id["O"]) for kind in self.kinds])

    def spans(self, text: str, offsets: np.ndarray, probs: np.ndarray, runs: TextRuns | None = None
              ) -> list[EntitySpan]:
        """Spans of one text from its sub-tokens' ``offsets`` (n x 2) and probabilities (n x labels).

        ``runs``: the text's :class:`TextRuns`, where the caller has them already.
        """
        return self.spans_of_texts([text], [offsets], [probs], [runs])[0]

    def spans_of_texts(self, texts: Sequence[str], offsets: Sequence[np.ndarray], probs: Sequence[np.ndarray],
                       runs: Sequence[TextRuns | None]) -> list[list[EntitySpan]]:
        """:meth:`spans` of several texts in one pass of array operations over all their words.

        Each array operation costs a few microseconds however small its input, and a headline is a
        handful of words: decoding every text a model call completes at once pays that overhead once.
        """
        groups = [word_groups(text, offs, run) for text, offs, run in zip(texts, offsets, runs, strict=True)]
        sizes = [len(offs) for offs in offsets]
        if not sum(sizes):
            return [[] for _ in texts]
        base = np.concatenate(([0], np.cumsum(sizes)))
        firsts = np.concatenate([g + b for g, b in zip(groups, base.tolist(), strict=False)])
        text_of_word = np.repeat(np.arange(len(texts)), [len(g) for g in groups])
        all_offsets = np.concatenate(offsets)
        pieces = np.diff(np.append(firsts, len(all_offsets)))
        means = np.add.reduceat(np.concatenate(probs).astype(np.float64), firsts, axis=0) / pieces[:, None]
        masses = means @ self.mass
        kind = masses.argmax(axis=1)
        words = np.arange(len(kind))
        score = masses[words, kind]
        begins = means[words, self.begin[kind]] >= means[words, self.inside[kind]]
        entity = kind > 0
        same_as_before = np.zeros(len(kind), dtype=bool)  # same type as the word before, in the same text
        same_as_before[1:] = (kind[1:] == kind[:-1]) & (text_of_word[1:] == text_of_word[:-1])
        opens = entity & (begins | ~same_as_before)
        found: list[list[EntitySpan]] = [[] for _ in texts]
        starts = np.flatnonzero(opens)
        if len(starts) == 0:
            return found
        # An entity runs from its opening word up to the next word that is O or opens another; a
        # text's first word is one of those, so no entity runs into the next text.
        breaks = np.flatnonzero(~entity | opens)
        following = np.searchsorted(breaks, starts, side="right")
        ends = np.where(following < len(breaks), breaks[np.minimum(following, len(breaks) - 1)], len(kind))
        weighted = np.concatenate(([0.0], np.cumsum(score * pieces)))
        counted = np.concatenate(([0], np.cumsum(pieces)))
        last_piece = np.append(firsts[1:], len(all_offsets)) - 1
        begin_at = all_offsets[firsts[starts], 0].tolist()
        end_at = all_offsets[last_piece[ends - 1], 1].tolist()
        means_of = ((weighted[ends] - weighted[starts]) / (counted[ends] - counted[starts])).tolist()
        for text, begin, end, label, mean in zip(text_of_word[starts].tolist(), begin_at, end_at,
                                                 kind[starts].tolist(), means_of, strict=True):
            found[text].append(EntitySpan(begin, end, self.kinds[label], round(mean, 4), texts[text][begin:end]))
        return found
