"""Contrast examples for entity stance: the label must come from around the target, not the sentence.

NewsMTSC train is mostly one target per sentence (7,739 sentences, 984 with more than one, 403
whose targets differ), so a model can score well by reading the sentence's overall tone and
giving every target in it the same label. The multi-target test sentences punish exactly that.
Two cheap remedies, both built from train only:

* :func:`joined_pairs`: two training sentences whose targets have different labels, joined into
  one text; each target, marked in the joined text, keeps its own label. The same words then carry
  two labels, and only the marker's neighbourhood tells them apart.
* :func:`differing_targets`: the real sentences whose targets differ, repeated.

>>> from wirestream.nlp.corpora import Labelled
>>> from wirestream.nlp.classify import stance_input
>>> a = Labelled(stance_input("Critics attacked Acme.", 17, 21), 0, key="Critics attacked Acme.")
>>> b = Labelled(stance_input("Fans love Bolt.", 10, 14), 2, key="Fans love Bolt.")
>>> for example in joined_pairs([a, b], count=1, seed=1, joiners=("; ",)):
...     print(example.label, example.input[1])
0 Critics attacked <t>Acme</t>; Fans love Bolt.
2 Critics attacked Acme; Fans love <t>Bolt</t>.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from wirestream.nlp.classify import TARGET_CLOSE, TARGET_OPEN, stance_input
from wirestream.nlp.corpora import Labelled

JOINERS = (" ", "; ", ", while ", " Meanwhile, ")


def _unmark(marked: str) -> tuple[str, int, int]:
    """The plain sentence and the target's span, from a marked stance input."""
    start = marked.index(TARGET_OPEN)
    end = marked.index(TARGET_CLOSE) - len(TARGET_OPEN)
    return marked.replace(TARGET_OPEN, "", 1).replace(TARGET_CLOSE, "", 1), start, end


def _join(first: str, target_end: int, joiner: str, second: str) -> str:
    """``first`` + ``joiner`` + ``second``; the full stop goes before a mid-sentence joiner."""
    if joiner.startswith((";", ",")):
        stripped = first.rstrip().rstrip(".")
        first = stripped if len(stripped) >= target_end else first
    return f"{first}{joiner}{second}"


def joined_pairs(
    rows: Sequence[Labelled], *, count: int, seed: int = 13, joiners: Sequence[str] = JOINERS, max_chars: int = 400
) -> list[Labelled]:
    """``count`` joined texts, two examples each: targets with different labels from two sentences."""
    rng = random.Random(seed)
    by_label: dict[int, list[Labelled]] = defaultdict(list)
    for row in rows:
        by_label[row.label].append(row)
    labels = sorted(by_label)
    out: list[Labelled] = []
    attempts = 0
    while len(out) < 2 * count and attempts < 20 * count:
        attempts += 1
        first_label, second_label = rng.sample(labels, 2)
        first, second = rng.choice(by_label[first_label]), rng.choice(by_label[second_label])
        one, one_start, one_end = _unmark(first.input[1])
        two, two_start, two_end = _unmark(second.input[1])
        if len(one) + len(two) > max_chars:
            continue
        joiner = rng.choice(list(joiners))
        text = _join(one, one_end, joiner, two)
        offset = len(text) - len(two)
        key = f"joined:{first.key}|{second.key}"
        out.append(Labelled(stance_input(text, one_start, one_end), first.label, key=key))
        out.append(Labelled(stance_input(text, offset + two_start, offset + two_end), second.label, key=key))
    return out


def differing_targets(rows: Sequence[Labelled], *, times: int = 2) -> list[Labelled]:
    """Rows of sentences whose targets do not all share one label, each repeated ``times`` times."""
    labels: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        labels[row.key].add(row.label)
    return [row for row in rows if len(labels[row.key]) > 1 for _ in range(times)]


def with_contrast(rows: Sequence[Labelled], *, pairs: int, repeats: int, seed: int = 13) -> list[Labelled]:
    """Train rows plus joined pairs and repeated differing-target sentences."""
    return [*rows, *joined_pairs(rows, count=pairs, seed=seed), *differing_targets(rows, times=repeats)]
