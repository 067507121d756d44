"""Known place names as an NER feature: which words are flagged, and how the type ids carry the flag."""

from __future__ import annotations

import numpy as np

from wirestream.nlp.casing import TITLE, UPPER, casing_ids
from wirestream.nlp.decoding import TextRuns
from wirestream.nlp.gazetteer import PLACE, place_flags


def flagged(text: str) -> list[str]:
    runs = TextRuns.of(text)
    return [run for run, flag in zip(runs.strings, place_flags(text, runs), strict=True) if flag]


def test_places_of_every_region_are_flagged_and_the_longest_name_wins():
    text = "Talks in Kigali, New Delhi, Mombasa and New York City; rain in Buenos Aires."
    assert flagged(text) == ["Kigali", "New", "Delhi", "Mombasa", "New", "York", "City", "Buenos", "Aires"]


def test_matching_is_case_sensitive_and_diacritics_are_optional():
    assert flagged("kigali and new delhi") == []
    assert flagged("São Paulo and Sao Paulo") == ["São", "Paulo", "Sao", "Paulo"]


def test_a_name_only_counts_when_the_text_spells_it_whole():
    assert flagged("New Yorkers") == []  # "New York" is not followed by a run boundary in the name
    assert flagged("a New policy") == []


def test_the_type_ids_add_the_place_flag_to_the_casing_class():
    text = "KIGALI Kigali Ruto"
    offsets = [(0, 6), (7, 13), (14, 18)]
    assert casing_ids(text, offsets) == [UPPER, TITLE, TITLE]
    assert casing_ids(text, offsets, places=True) == [UPPER, PLACE + TITLE, TITLE]
    assert np.array_equal(casing_ids("no places", [(0, 2), (3, 9)], places=True), [0, 0])
