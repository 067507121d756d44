"""The dateline's city and agency as mentions, in place of whatever the model read there.

>>> from wirestream.nlp.decoding import EntitySpan
>>> body = "Dakar, Mar 25 (APS) Bassirou Diomaye Faye took a lead."
>>> found = [EntitySpan(0, 5, "PER", 0.6, "Dakar"), EntitySpan(7, 10, "PER", 0.5, "Mar"),
...          EntitySpan(20, 41, "PER", 0.99, "Bassirou Diomaye Faye")]
>>> [(s.text, s.label) for s in with_dateline(body, found)]
[('Dakar', 'LOC'), ('APS', 'ORG'), ('Bassirou Diomaye Faye', 'PER')]
"""

from __future__ import annotations

from wirestream.nlp.decoding import EntitySpan
from wirestream.wirefile import dateline_mentions


def with_dateline(body: str, spans: list[EntitySpan]) -> list[EntitySpan]:
    """``spans`` of an article body, with its dateline's mentions taken from the wire format."""
    found = dateline_mentions(body)
    if found is None:
        return spans
    end, mentions = found
    by_place = {(s.start, s.end): s for s in spans}
    named = [EntitySpan(start, stop, label, by_place[(start, stop)].score if (start, stop) in by_place else 1.0,
                        body[start:stop]) for start, stop, label in mentions]
    return named + [s for s in spans if s.start >= end]
