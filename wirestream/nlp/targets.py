"""Stance inputs encoded from one tokenization of their sentence, not one per (sentence, target).

A stance input is the pair (mention, sentence with the mention between ``<t>`` and ``</t>``)
(:func:`wirestream.nlp.classify.stance_input`). A sentence of an article holds several entities,
and the tokenizer splits its added marker tokens out before it normalizes or splits words, so:

* the marked sentence's ids are the sentence's own ids with the two marker ids put in at the
  mention's edges, and
* the mention's ids are the sentence's ids between them,

wherever both edges fall where the pre-tokenizer splits words anyway (whitespace or punctuation
on one side). :class:`TargetEncoder` does that for the tokenizers it can show it holds for (a BERT
normalizer and pre-tokenizer, WordPiece, a template post-processor); any input whose edges fall
inside a word, or that would be truncated, is tokenized whole, so the ids are always the ones
tokenizing :func:`~wirestream.nlp.classify.stance_input` gives.

>>> from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
>>> vocab = {w: i for i, w in enumerate("[PAD] [UNK] [CLS] [SEP] <t> </t> critics blasted dole .".split())}
>>> tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
>>> tokenizer.normalizer, tokenizer.pre_tokenizer = normalizers.BertNormalizer(), pre_tokenizers.BertPreTokenizer()
>>> tokenizer.post_processor = processors.TemplateProcessing(
...     single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
>>> _ = tokenizer.add_special_tokens(["<t>", "</t>"])
>>> ids, types = TargetEncoder(tokenizer, max_length=64).encode([("Critics blasted Dole.", 16, 20)])[0]
>>> ids, types
([2, 8, 3, 6, 7, 4, 8, 5, 9, 3], [0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
"""

from __future__ import annotations

import json
import string
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from wirestream.nlp.plaintext import PlainEncoder

Encoded = tuple[Sequence[int], Sequence[int]]  # one input's token ids and token type ids (plain lists)
Target = tuple[str, int, int]  # a sentence and the mention's character span in it
Words = tuple[list[int], Sequence[int], Sequence[int]]  # a text's sub-token ids, their character starts and ends

_SPLITS = frozenset(" \t\n\r" + string.punctuation)  # characters the BERT pre-tokenizer always splits at


def splits_at(text: str, i: int) -> bool:
    """Whether a BERT pre-tokenizer puts a word boundary between ``text[i - 1]`` and ``text[i]``.

    Only the cases that hold for certain (ASCII whitespace or punctuation on one side); an edge
    this says no to is tokenized whole, so a no costs time, never a different id.

    >>> [splits_at("Dole's plan", i) for i in (0, 3, 4, 5, 6, 11)]
    [True, False, True, True, True, True]
    >>> splits_at("Pakistani", 8)
    False
    """
    return i <= 0 or i >= len(text) or text[i - 1] in _SPLITS or text[i] in _SPLITS


class TargetEncoder:
    """Encodes stance inputs from one tokenization of each distinct sentence."""

    def __init__(self, tokenizer: Any, max_length: int, whole: Callable[[list[Target]], list[Encoded]] | None = None,
                 open_marker: str = "<t>", close_marker: str = "</t>") -> None:
        """``tokenizer``: a ``tokenizers.Tokenizer``; ``whole``: encodes inputs the slow, exact way."""
        from tokenizers import Tokenizer

        backend = Tokenizer.from_str(tokenizer.to_str())  # a copy that never truncates a sentence
        backend.no_truncation()
        backend.no_padding()
        self.encoder = PlainEncoder(backend)  # plain sentences skip the normalizer
        self.max_length = max_length
        self.whole = whole
        self.template = pair_template(tokenizer)
        self.markers = (tokenizer.token_to_id(open_marker), tokenizer.token_to_id(close_marker))

    @property
    def shares(self) -> bool:
        """Whether this tokenizer's ids can be shared between the targets of a sentence."""
        return self.template is not None and None not in self.markers

    def words(self, texts: Sequence[str]) -> dict[str, Words]:
        """Each distinct text's sub-token ids and character offsets: no special tokens, never truncated."""
        distinct = list(dict.fromkeys(texts))
        found = {}
        for text, encoding in zip(distinct, self.encoder.encode(distinct), strict=True):
            starts, ends = zip(*encoding.offsets, strict=True) if encoding.offsets else ((), ())
            found[text] = (encoding.ids, starts, ends)
        return found

    def encode(self, targets: Sequence[Target], words: Mapping[str, Words] | None = None) -> list[Encoded]:
        """Each target's ids; ``words``: :meth:`words` of some of the sentences, already tokenized."""
        if not self.shares:
            return self._whole(list(targets))
        words = {**(words or {})}
        words.update(self.words([text for text, _, _ in targets if text not in words]))
        out: list[Encoded | None] = []
        left: list[int] = []
        for n, (text, start, end) in enumerate(targets):
            encoded = None
            if splits_at(text, start) and splits_at(text, end):
                encoded = self._shared(*words[text], start, end)
            if encoded is None:
                left.append(n)
            out.append(encoded)
        for n, encoded in zip(left, self._whole([targets[n] for n in left]), strict=True):
            out[n] = encoded
        return out  # type: ignore[return-value]

    def _shared(self, ids: list[int], starts: Sequence[int], ends: Sequence[int], start: int,
                end: int) -> Encoded | None:
        first = bisect_left(starts, start)  # the mention's first token, and the first one after it
        after = bisect_left(starts, end)
        if after <= first or (first and ends[first - 1] > start) or ends[after - 1] > end:
            return None  # a token across an edge, or none inside
        mention = ids[first:after]
        marked = [*ids[:first], self.markers[0], *mention, self.markers[1], *ids[after:]]
        joined: list[int] = []
        types: list[int] = []
        for item, type_id in self.template:  # type: ignore[union-attr]
            piece = mention if item == "A" else marked if item == "B" else item
            joined += piece
            types += [type_id] * len(piece)
        if len(joined) > self.max_length:
            return None  # truncation is the tokenizer's to do
        return joined, types

    def _whole(self, targets: list[Target]) -> list[Encoded]:
        if not targets:
            return []
        if self.whole is None:
            raise ValueError("no encoder for the inputs this tokenizer cannot share")
        return self.whole(targets)


def pair_template(tokenizer: Any) -> list[tuple[Any, int]] | None:
    """The pair template as (``"A"``, ``"B"`` or special ids, type id) items, or None where ids cannot be shared.

    Sharing needs a tokenizer whose normalizer and pre-tokenizer work character by character and
    split where :func:`splits_at` says (BERT's), a WordPiece model, and a template post-processor.
    """
    spec = json.loads(tokenizer.to_str())
    parts = ("normalizer", "pre_tokenizer", "model", "post_processor")
    normalizer, pre, model, post = (spec.get(k) or {} for k in parts)
    if (normalizer.get("type"), pre.get("type"), model.get("type"), post.get("type")) != (
            "BertNormalizer", "BertPreTokenizer", "WordPiece", "TemplateProcessing"):
        return None
    markers = [t for t in spec.get("added_tokens", []) if t["content"] in ("<t>", "</t>")]
    if any(t["lstrip"] or t["rstrip"] or t["normalized"] or t["single_word"] for t in markers):
        return None
    return template_items(post, "pair")


def template_items(post: dict[str, Any], which: str) -> list[tuple[Any, int]]:
    """A ``TemplateProcessing`` post-processor's ``single`` or ``pair`` template as (``"A"``, ``"B"`` or
    special ids, type id) items."""
    template = []
    for item in post[which]:
        if "Sequence" in item:
            template.append((item["Sequence"]["id"], item["Sequence"]["type_id"]))
        else:
            special = item["SpecialToken"]
            template.append((post["special_tokens"][special["id"]]["ids"], special["type_id"]))
    return template
