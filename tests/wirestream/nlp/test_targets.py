"""Stance inputs from one tokenization per sentence: the same ids as tokenizing each input whole."""

from __future__ import annotations

import random

import numpy as np
import pytest
from transformers import AutoTokenizer

from wirestream.config import models_dir
from wirestream.nlp.classify import TextClassifier, WordSharing, stance_input
from wirestream.nlp.targets import TargetEncoder

SENTENCES = [
    "Lashkar-e-Taiba (LeT) chief Hafiz Saeed met officials in Muzaffarabad, Pakistan-Occupied Kashmir.",
    "The Vishwa Hindu Parishad's rally in Pulwama drew 5,000 people; police said the \"VHP\" had no permit.",
    "Zürich-based UBS and Société Générale cut 1.2% after the ECB's decision — analysts were unmoved.",
    "  Spaces\tand\nbreaks around   Obama  and control\x0bchars, plus a literal <t> marker and é-accents.",
    "北京 and 東京 traded barbs while Pakistani and Indian envoys met in New Delhi.",
]


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(str(models_dir() / "wirestream-stance"), local_files_only=True)


def exact(tokenizer, targets, max_length):
    encoded = tokenizer([stance_input(*t)[0] for t in targets], [stance_input(*t)[1] for t in targets],
                        truncation=True, max_length=max_length)
    return list(zip(encoded["input_ids"], encoded["token_type_ids"], strict=True))


def spans(text: str, rng: random.Random, count: int) -> list[tuple[str, int, int]]:
    """Word spans (the usual mention) and arbitrary spans, edges inside words included."""
    words = [(m.start(), m.end()) for m in __import__("re").finditer(r"\w[\w'-]*", text)]
    out = [(text, words[i][0], words[j][1]) for i in range(len(words)) for j in range(i, min(i + 3, len(words)))]
    for _ in range(count):
        start = rng.randrange(len(text) - 1)
        out.append((text, start, rng.randrange(start + 1, len(text) + 1)))
    return out


@pytest.mark.parametrize("max_length", [256, 24])
def test_shared_ids_are_the_ids_of_each_input_tokenized_whole(tokenizer, max_length):
    classifier = TextClassifier.load(models_dir() / "wirestream-stance", max_length=max_length)
    assert classifier.target_encoder is not None and classifier.target_encoder.shares
    rng = random.Random(7)
    targets = [t for text in SENTENCES for t in spans(text, rng, 40)]
    rng.shuffle(targets)
    whole, tokenized_whole = classifier.target_encoder.whole, []
    classifier.target_encoder.whole = lambda ts: tokenized_whole.extend(ts) or whole(ts)
    got = classifier.target_encoder.encode(targets)
    if max_length == 256:  # at 24 tokens nearly every input is truncated, so tokenized whole
        assert 0 < len(tokenized_whole) < len(targets)  # word edges shared, the rest whole
    want = exact(tokenizer, targets, classifier.max_length)
    assert len(got) == len(want)
    for target, (ids, types), (want_ids, want_types) in zip(targets, got, want, strict=True):
        assert list(ids) == want_ids and list(types) == want_types, target


def test_targets_give_the_predictions_of_the_whole_inputs():
    classifier = TextClassifier.load(models_dir() / "wirestream-stance")
    targets = [(SENTENCES[0], 0, 15), (SENTENCES[0], 28, 39), (SENTENCES[1], 4, 25), (SENTENCES[1], 36, 43)]
    assert classifier.targets(targets) == classifier([stance_input(*t) for t in targets])
    assert classifier.targets([]) == []


def test_a_tokenizer_it_cannot_vouch_for_is_tokenized_whole():
    from tokenizers import Tokenizer, models, pre_tokenizers

    plain = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    plain.pre_tokenizer = pre_tokenizers.Whitespace()
    calls = []
    encoder = TargetEncoder(plain, 16, whole=lambda ts: calls.append(ts) or [(np.zeros(1), np.zeros(1))] * len(ts))
    assert not encoder.shares
    assert len(encoder.encode([("a a", 0, 1)])) == 1 and calls == [[("a a", 0, 1)]]


@pytest.mark.parametrize("max_length", [256, 24])
def test_the_tone_model_reads_the_stance_models_ids_as_its_own(max_length):
    """One tokenization per sentence for both sentiment-stage models: the tone inputs built from the
    stance encoder's ids are exactly the ones the tone tokenizer gives (truncation included); a text
    that holds a stance marker literally is tokenized by the tone model itself."""
    tone = TextClassifier.load(models_dir() / "wirestream-sentiment", max_length=max_length)
    stance = TextClassifier.load(models_dir() / "wirestream-stance")
    sharing = WordSharing.of(tone, stance)
    assert sharing is not None and sharing.foreign == ("</t>", "<t>")
    long = " ".join([s for s in SENTENCES if "<t>" not in s] * 8)  # over 256 sub-tokens
    texts = [*SENTENCES, long, "", "A </t> closing marker alone.", SENTENCES[0]]
    words = sharing.words(texts)
    own, calls = tone._encode, []
    shared = words.encode_single(texts, lambda rest: calls.append(rest) or own(rest))
    assert calls == [[SENTENCES[3], "A </t> closing marker alone."]]
    for text, (ids, types), (want_ids, want_types) in zip(texts, shared, own(texts), strict=True):
        assert list(ids) == list(want_ids) and list(types) == list(want_types), text
    assert tone(texts, words) == tone(texts)


def test_classifiers_whose_tokenizers_differ_share_nothing():
    stance = TextClassifier.load(models_dir() / "wirestream-stance")
    ner_vocab = TextClassifier.load(models_dir() / "wirestream-stance")
    ner_vocab.tokenizer.backend_tokenizer.normalizer = __import__("tokenizers").normalizers.Lowercase()
    assert WordSharing.of(ner_vocab, stance) is None  # another normalizer
    assert WordSharing.of(stance, stance) is None  # a target model reads pairs, not single texts
