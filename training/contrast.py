"""Contrast examples for entity stance: the label must come from around the target, not the sentence.

NewsMTSC train is mostly one target per sentence (7,739 sentences, 984 with more than one, 403
whose targets differ), so a model can score well by reading the sentence's overall tone and
giving every target in it the same label. The multi-target test sentences punish exactly that.
Two cheap remedies, both built from train only:

* :func:`joined_pairs`: two training sentences whose targets have different labels, joined into
  one text; each target, marked in the joined text, keeps its own label. The same words then carry
  two labels, and only the marker's neighbourhood tells them apart.
* :func:`differing_targets`: the real sentences whose targets differ, repeated.
* :func:`swapped_roles`: those sentences again with two differing targets' names swapped; each
  label stays with its role (its place in the sentence), not with the name. A model that reads
  the sentence's tone, or what it has learnt of a name, gets one of the two wrong.

>>> from training.corpora import Labelled
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

from training.corpora import Labelled
from wirestream.nlp.classify import stance_input, unmark

JOINERS = (" ", "; ", ", while ", " Meanwhile, ")


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
        one, one_start, one_end = unmark(first.input[1])
        two, two_start, two_end = unmark(second.input[1])
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


PRONOUNS = frozenset({
    "he", "she", "him", "her", "his", "hers", "they", "them", "their", "theirs", "it", "its",
    "we", "us", "our", "i", "me", "my", "you", "your", "who", "whom",
})


def _named(mention: str) -> bool:
    """A name, not a pronoun or a common noun phrase ("the attack"): swapping those garbles the sentence."""
    return mention[:1].isupper() and mention.lower() not in PRONOUNS


def swap_mentions(sentence: str, first: tuple[int, int], second: tuple[int, int]) -> tuple[str, tuple[int, int],
                                                                                            tuple[int, int]]:
    """``sentence`` with the two spans' texts exchanged, and where each span's place now lies.

    >>> swap_mentions("Ann beat Bob.", (0, 3), (9, 12))
    ('Bob beat Ann.', (0, 3), (9, 12))
    >>> swap_mentions("Ann Lee beat Bob.", (0, 7), (13, 16))
    ('Bob beat Ann Lee.', (0, 3), (9, 16))
    """
    (a0, a1), (b0, b1) = sorted([first, second])
    a, b = sentence[a0:a1], sentence[b0:b1]
    text = f"{sentence[:a0]}{b}{sentence[a1:b0]}{a}{sentence[b1:]}"
    moved = len(b) - len(a)
    places = {(a0, a1): (a0, a0 + len(b)), (b0, b1): (b0 + moved, b1)}
    return text, places[first], places[second]


def swapped_roles(rows: Sequence[Labelled], *, times: int = 1) -> list[Labelled]:
    """For each pair of differing-label, named (not pronoun) targets of a sentence, the swapped sentence.

    Both swapped targets keep their places' labels: in "Christie questioned <Rubio>'s readiness"
    the one questioned is portrayed negatively, whoever it is.

    >>> from wirestream.nlp.classify import stance_input
    >>> s = "Critics of Acme praised Bolt."
    >>> rows = [Labelled(stance_input(s, 11, 15), 0, key=s), Labelled(stance_input(s, 24, 28), 2, key=s)]
    >>> [(r.label, r.input[1]) for r in swapped_roles(rows)]
    [(0, 'Critics of <t>Bolt</t> praised Acme.'), (2, 'Critics of Bolt praised <t>Acme</t>.')]
    """
    by_sentence: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for row in rows:
        sentence, start, end = unmark(row.input[1])
        by_sentence[sentence].append((start, end, row.label))
    out: list[Labelled] = []
    for sentence, targets in by_sentence.items():
        named = sorted({t for t in targets if _named(sentence[t[0] : t[1]])})
        for i, (s1, e1, l1) in enumerate(named):
            for s2, e2, l2 in named[i + 1 :]:
                if l1 == l2 or not (e1 <= s2 or e2 <= s1) or sentence[s1:e1].lower() == sentence[s2:e2].lower():
                    continue
                text, one, two = swap_mentions(sentence, (s1, e1), (s2, e2))
                key = f"swapped:{sentence}"
                for _ in range(times):
                    out.append(Labelled(stance_input(text, *one), l1, key=key))
                    out.append(Labelled(stance_input(text, *two), l2, key=key))
    return out


def with_contrast(
    rows: Sequence[Labelled], *, pairs: int, repeats: int, swaps: int = 0, seed: int = 13
) -> list[Labelled]:
    """Train rows plus joined pairs, repeated differing-target sentences and their role swaps."""
    return [*rows, *joined_pairs(rows, count=pairs, seed=seed), *differing_targets(rows, times=repeats),
            *swapped_roles(rows, times=swaps)]
