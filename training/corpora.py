"""Readers for the public sentiment and stance data (never committed; see ../shared/data/README.md)."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from wirestream.nlp.classify import POLARITIES, TextInput, stance_input

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


@dataclass(frozen=True)
class Labelled:
    input: TextInput
    label: int  # index into POLARITIES
    key: str = ""  # groups targets of one sentence (stance) or the tweet id (sentiment)


def unescape(text: str) -> str:
    r"""SemEval 2013/2015 files carry literal ``\uXXXX`` escapes.

    >>> unescape(r"caf\u00e9\u002c now")
    'café, now'
    """
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def read_newsmtsc(path: Path) -> list[Labelled]:
    """NewsMTSC ``hf`` rows: one target per row, polarity -1/0/1."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        rows.append(Labelled(stance_input(row["sentence"], row["from"], row["to"]), int(row["polarity"]) + 1,
                             key=row["sentence"]))
    return rows


def read_semeval(paths: Iterable[Path]) -> list[Labelled]:
    """SemEval-2017 4A tab-separated tweets, deduplicated by tweet id (first occurrence kept)."""
    seen: dict[str, Labelled] = {}
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or parts[1] not in POLARITIES:
                continue
            tweet_id, label, text = parts[0], parts[1], unescape(parts[2]).strip()
            if tweet_id not in seen and text:
                seen[tweet_id] = Labelled(text, POLARITIES.index(label), key=tweet_id)
    return list(seen.values())


def semeval_train_and_heldout(data_dir: Path, heldout: float = 0.05, seed: int = 13) -> tuple[list, list]:
    """All 2013-2016 tweets, with a seeded random part held out for choosing the checkpoint."""
    tweets = read_semeval(sorted((Path(data_dir) / "train_2013-2016").glob("*.tsv")))
    random.Random(seed).shuffle(tweets)
    cut = int(len(tweets) * heldout)
    return tweets[cut:], tweets[:cut]


def semeval_test(data_dir: Path) -> list[Labelled]:
    return read_semeval(sorted((Path(data_dir) / "test_2017").glob("*.txt")))
