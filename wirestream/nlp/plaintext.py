"""Sub-token ids and offsets of texts, with BERT's normalizer skipped where it would only lower-case.

A BERT tokenizer normalizes every text before it splits words: it drops control characters, turns
whitespace into spaces, strips accents, spaces out CJK characters and lower-cases, tracking every
character's offset as it goes. On a text of printable ASCII, tabs, newlines and typographic quotes
and dashes only, all of that is ``str.lower`` (lengths and offsets unchanged), and the Rust
normalizer was a third of the tokenizer's time on BBC articles: 91 % of the BBC, CoNLL and NewsMTSC
texts are such.
:class:`PlainEncoder` lower-cases those in Python and tokenizes them with a copy of the tokenizer
that has no normalizer; every other text goes through the tokenizer as it is. Ids and offsets are
the tokenizer's own either way (``tests/wirestream/nlp/test_plaintext.py``).

>>> from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
>>> vocab = {w: i for i, w in enumerate("[UNK] [CLS] critics blasted dole cafe . ##s".split())}
>>> tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
>>> tokenizer.normalizer, tokenizer.pre_tokenizer = normalizers.BertNormalizer(), pre_tokenizers.BertPreTokenizer()
>>> encoder = PlainEncoder(tokenizer)
>>> [(e.ids, e.offsets) for e in encoder.encode(["Critics blasted Doles.", "Café critics."])]
[([2, 3, 4, 7, 6], [(0, 7), (8, 15), (16, 20), (20, 21), (21, 22)]), ([5, 2, 6], [(0, 4), (5, 12), (12, 13)])]
>>> encoder.is_plain("Critics blasted Doles."), encoder.is_plain("Café critics.")
(True, False)
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

# What BERT's normalizer leaves as it is but for case: no control characters other than tab, newline
# and carriage return, no accents, nothing CJK. Brackets and angle brackets are left out too, so that
# no added token ([CLS], <t>) can stand in a plain text, whether matched before normalizing or after.
_PLAIN = re.compile("[\t\n\r\x20-\x3b\x3d\x3f-\x5a\\\\\x5e-\x7e\u2018\u2019\u201c\u201d\u2013\u2014]*")
_OUTSIDE = frozenset("[]<>")


class PlainEncoder:
    """``encode_batch(texts, add_special_tokens=False)`` of a tokenizer, faster on plain texts.

    ``tokenizer``: a ``tokenizers.Tokenizer`` that neither truncates nor pads. The shortcut is taken
    only for a BERT normalizer whose added tokens each hold a bracket or angle bracket; for any other
    tokenizer every text goes through it as it is.
    """

    def __init__(self, tokenizer: Any) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = tokenizer
        spec = json.loads(tokenizer.to_str())
        normalizer = spec.get("normalizer") or {}
        added = [token["content"] for token in spec.get("added_tokens", [])]
        self.bare: Any = None
        self.lowercase = bool(normalizer.get("lowercase"))
        if normalizer.get("type") == "BertNormalizer" and all(_OUTSIDE & set(token) for token in added):
            self.bare = Tokenizer.from_str(tokenizer.to_str())
            self.bare.normalizer = None

    def is_plain(self, text: str) -> bool:
        """Whether ``text`` takes the shortcut."""
        return self.bare is not None and _PLAIN.fullmatch(text) is not None

    def encode(self, texts: Sequence[str]) -> list[Any]:
        """One ``tokenizers.Encoding`` per text, in order, without special tokens."""
        if self.bare is None:
            return self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        plain = [self.is_plain(text) for text in texts]
        lowered = [t.lower() if self.lowercase else t for t, p in zip(texts, plain, strict=True) if p]
        fast = iter(self.bare.encode_batch(lowered, add_special_tokens=False))
        slow = iter(self.tokenizer.encode_batch([t for t, p in zip(texts, plain, strict=True) if not p],
                                                add_special_tokens=False))
        return [next(fast) if p else next(slow) for p in plain]
