"""Sentence spans of news text, with offsets into the original string.

A rule-based splitter is enough for wire copy: sentences end at ``.``, ``!`` or ``?`` (with any
closing quotes or brackets) before whitespace and a capital, digit or opening quote; paragraph
breaks always end a sentence; common abbreviations and initials do not.

>>> text = 'Mr. Sa\\'ar spoke in Brussels. "We will not stop," he said.\\n\\nThe U.S. agreed.'
>>> [text[s:e] for s, e in sentence_spans(text)]
["Mr. Sa'ar spoke in Brussels.", '"We will not stop," he said.', 'The U.S. agreed.']
"""

from __future__ import annotations

import re

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "col", "lt", "sgt", "capt", "gov", "sen", "rep", "st", "jr", "sr",
    "no", "vs", "inc", "corp", "co", "ltd", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "u.s", "u.k", "u.n", "e.g", "i.e", "etc", "approx", "dept", "est", "fig", "mt",
}
_END = re.compile(r"""[.!?]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9])""")
_PARAGRAPH = re.compile(r"\n\s*\n")


def _is_abbreviation(text: str, end: int) -> bool:
    """Whether the period ending at ``end`` closes an abbreviation or an initial."""
    if text[end - 1] != ".":
        return False
    start = end - 1
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in "(\"'“":
        start -= 1
    word = text[start : end - 1].lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _split_paragraph(text: str, offset: int, end: int) -> list[tuple[int, int]]:
    spans = []
    start = offset
    for match in _END.finditer(text, offset, end):
        if _is_abbreviation(text, match.end()) and match.group().startswith(".") and len(match.group()) == 1:
            continue
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, end))
    return spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every sentence, stripped of surrounding whitespace, in order."""
    spans: list[tuple[int, int]] = []
    position = 0
    boundaries = [(m.start(), m.end()) for m in _PARAGRAPH.finditer(text)] + [(len(text), len(text))]
    for paragraph_end, next_start in boundaries:
        for start, end in _split_paragraph(text, position, paragraph_end):
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                spans.append((start, end))
        position = next_start
    return spans
