"""The tokenizers' shortcut for plain texts: the same ids and offsets as the tokenizer's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer

from tests.conftest import SEEDS
from wirestream.config import models_dir
from wirestream.nlp.plaintext import PlainEncoder

TEXTS = [
    "NEW DELHI, Feb 26 (IANS) Lashkar-e-Taiba's chief met officials in Muzaffarabad.",
    "Tabs\tnewlines\nand\r\ncarriage returns;  double  spaces, \"quotes\" and 5,000 people @ 9:30 ~ 1/2 = 50% & more!",
    "Typographic ‘quotes’, “double quotes” \u2013 an en dash — an em dash; Sa’ar’s plan.",
    "Zürich-based UBS and Société Générale: accents go the slow way.",
    "北京 and 東京 traded barbs; CJK characters are spaced out by the normalizer.",
    "A literal <t> marker, an upper-case <T> one and [CLS], [cls] or [MASK] in the text.",
    "Control\x0bcharacters\x0c, a DEL\x7f and a NUL\x00 are dropped by the normalizer; \ufffd too.",
    "Emoji 🙂 and symbols € £ ° ©: not plain.",
    "ALL CAPS HEADLINE: OBAMA MEETS MODI",
    "",
    "   ",
]


def seed_texts() -> list[str]:
    return [line for path in sorted(Path(SEEDS).glob("*.txt")) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("model", ["wirestream-ner", "wirestream-stance", "wirestream-sentiment"])
def test_ids_and_offsets_are_the_tokenizers_own_on_plain_and_other_texts(model):
    tokenizer = Tokenizer.from_file(str(models_dir() / model / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    encoder = PlainEncoder(tokenizer)
    assert encoder.bare is not None  # the shipped BERT tokenizers take the shortcut
    texts = TEXTS + seed_texts()
    expected = tokenizer.encode_batch(texts, add_special_tokens=False)
    for batch in (texts, [t for t in texts if encoder.is_plain(t)], texts[:1]):
        got = encoder.encode(batch)
        want = [expected[texts.index(t)] for t in batch]
        assert [(e.ids, e.offsets) for e in got] == [(e.ids, e.offsets) for e in want]


def test_only_texts_the_normalizer_would_only_lower_case_are_plain():
    encoder = PlainEncoder(Tokenizer.from_file(str(models_dir() / "wirestream-ner" / "tokenizer.json")))
    assert [encoder.is_plain(t) for t in TEXTS] == [True, True, True, False, False, False, False, False, True, True,
                                                    True]


def test_a_tokenizer_without_a_bert_normalizer_goes_the_usual_way():
    tokenizer = Tokenizer.from_file(str(models_dir() / "wirestream-ner" / "tokenizer.json"))
    tokenizer.normalizer = None
    encoder = PlainEncoder(tokenizer)
    assert encoder.bare is None and not encoder.is_plain("plain text")
    assert encoder.encode(["Plain Text"])[0].ids == tokenizer.encode("Plain Text", add_special_tokens=False).ids
