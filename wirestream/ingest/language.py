"""A small stop-word language guess: enough to route articles, no model or download needed.

>>> detect("The minister said on Monday that the talks would resume in the spring.")
'en'
>>> detect("Der Minister sagte am Montag, dass die Gespräche im Frühjahr wieder aufgenommen werden.")
'de'
>>> detect("12 345") is None
True
"""

from __future__ import annotations

import re

STOPWORDS = {  # the commonest function words, space-separated
    "en": "the of and to in a is that for on with as was by at from it said be are has have will not this",
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es an werden",
    "fr": "le la les de des et un une du en est que pour dans qui sur au pas par plus ne a il avec sont",
    "es": "el la de que y en los del se las por un para con no una su al es lo como más pero sus le",
    "it": "il di che e la per un in non una sono del della con si da al le dei è gli ha anche più",
    "pt": "de que o a e do da em um para com não uma os no se na por mais as dos como mas foi ao",
    "nl": "de het een en van in is dat op te voor met zijn niet aan er ook als bij door naar heeft",
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def detect(text: str, minimum_hits: int = 3) -> str | None:
    """The language whose stop words the text uses most, or None when too few are there to say."""
    words = _WORD.findall(text.lower())
    scores = {language: sum(word in stop for word in words) for language, stop in _SETS.items()}
    language, hits = max(scores.items(), key=lambda item: item[1])
    return language if hits >= minimum_hits else None


_SETS = {language: frozenset(words.split()) for language, words in STOPWORDS.items()}
