"""Merge an article's mentions into entities, each with a key that is the same across articles.

Mentions of one thing are merged when they have the same type and one is the same name,
a part of the fuller name ("Sa'ar" of "Gideon Sa'ar"), or its acronym given in brackets right
after it or matching its initials ("JeM" of "Jaish-e-Mohammed"). The canonical name is the
fullest form; the key is the type and the name folded to ASCII lower case:

>>> from schemas import Mention
>>> body = "Gideon Sa'ar met Jaish-e-Mohammed (JeM) envoys. Sa'ar said JeM lied."
>>> def m(text, label, nth=0):
...     start = body.find(text) if nth == 0 else body.find(text, body.find(text) + 1)
...     return Mention(text=text, label=label, start=start, end=start + len(text), score=0.9)
>>> found = merge_entities([m("Gideon Sa'ar", "PER"), m("Jaish-e-Mohammed", "ORG"), m("JeM", "ORG"),
...                         m("Sa'ar", "PER", 1), m("JeM", "ORG", 1)], body)
>>> [(e.key, e.name, e.aliases, e.mention_count) for e in found]
[("per:gideon-sa'ar", "Gideon Sa'ar", ["Sa'ar"], 2), ('org:jaish-e-mohammed', 'Jaish-e-Mohammed', ['JeM'], 3)]

An abbreviation introduced in brackets keeps meaning its entity later on:

>>> body = "They met in Kashmir (PoK) last week. PoK is disputed."
>>> found = merge_entities([m("Kashmir", "LOC"), m("PoK", "LOC"), m("PoK", "LOC", 1)], body)
>>> [(e.name, e.aliases, e.mention_count) for e in found]
[('Kashmir', ['PoK'], 3)]

Even when NER typed the two differently; the entity takes the type most of its mentions have.
Without the brackets, differently typed names stay apart ("Washington" is not George Washington):

>>> body = "Jaish-e-Mohammed (JeM) denied it. JeM said so. George Washington left Washington."
>>> found = merge_entities([m("Jaish-e-Mohammed", "PER"), m("JeM", "ORG"), m("JeM", "ORG", 1),
...                         m("George Washington", "PER"), m("Washington", "LOC", 1)], body)
>>> [(e.key, e.aliases, e.mention_count) for e in found]
[('org:jaish-e-mohammed', ['JeM'], 3), ('per:george-washington', [], 1), ('loc:washington', [], 1)]
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from pydantic import TypeAdapter

from schemas import Entity, Mention

_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")
_WORD = re.compile(r"[\w'’]+")
_ENTITIES = TypeAdapter(list[Entity])


@lru_cache(maxsize=16384)
def clean_name(text: str) -> str:
    """Whitespace folded and a trailing possessive dropped: "Israel's" -> "Israel"."""
    return _POSSESSIVE.sub("", " ".join(text.split())) if len(text) > 3 else " ".join(text.split())


@lru_cache(maxsize=16384)  # news repeats its names: most keys of an article were made before
def entity_key(label: str, name: str) -> str:
    """Cross-article key: ``per:gideon-sa'ar``, ``org:hamas``.

    >>> entity_key("ORG", "Hamas"), entity_key("LOC", "São  Paulo")
    ('org:hamas', 'loc:sao-paulo')
    """
    folded = unicodedata.normalize("NFKD", clean_name(name)).encode("ascii", "ignore").decode().lower()
    folded = folded.replace("’", "'")
    return f"{label.lower()}:" + "-".join(re.findall(r"[a-z0-9']+", folded))


@lru_cache(maxsize=16384)
def _initials(name: str) -> str:
    return "".join(part[0] for part in re.split(r"[\s\-]+", name) if part).lower()


@lru_cache(maxsize=16384)
def _words(name: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _WORD.findall(name))


@lru_cache(maxsize=16384)
def _is_abbreviation(name: str) -> bool:
    """All capitals ("IANS"), or capitals inside one word ("JeM", "PoK")."""
    return (len(name) >= 2 and name.isupper()) or (any(c.isupper() for c in name[1:]) and " " not in name)


@lru_cache(maxsize=65536)
def _is_part_of(short: str, full: str) -> bool:
    """A word-aligned part of the fuller name ("Sa'ar" in "Gideon Sa'ar"; "Netanyahu" in "Benjamin Netanyahu")."""
    short_words, full_words = _words(short), _words(full)
    if not short_words or len(short_words) >= len(full_words):
        return False
    n = len(short_words)
    return any(full_words[i : i + n] == short_words for i in range(len(full_words) - n + 1))


def _bracketed_after(text: str, full_end: int, mention: Mention) -> bool:
    """``Full Name (ABBR)``: the mention stands in brackets right after the full name."""
    between = text[full_end : mention.start]
    return mention.start > full_end and between.strip() == "(" and text[mention.end : mention.end + 1] == ")"


def merge_entities(mentions: Sequence[Mention], body: str, headline: str | None = None) -> list[Entity]:
    """Entities of an article, in order of first mention."""
    def text_of(m: Mention) -> str:
        return (headline or "") if m.field == "headline" else body

    names = [clean_name(m.text) for m in mentions]
    lowers = [name.lower() for name in names]
    label_votes: dict[str, dict[str, int]] = {}
    for mention, lower in zip(mentions, lowers, strict=True):
        votes = label_votes.setdefault(lower, {})
        votes[mention.label] = votes.get(mention.label, 0) + 1
    majority = {lower: max(votes, key=votes.__getitem__) for lower, votes in label_votes.items()}  # ties: first
    labels = [majority[lower] for lower in lowers]

    groups: list[dict] = []  # name, lower-case name, label, members
    same_label: dict[str, list[dict]] = {}  # label -> its groups, in the order made (a name joins its own type's)
    known: dict[tuple[str, str], dict] = {}  # (label, lower-case form) -> the group it joined
    for index in sorted(range(len(mentions)), key=lambda i: (-len(names[i]), i)):
        mention, name, lower, label = mentions[index], names[index], lowers[index], labels[index]
        # a form once attached (e.g. "PoK" bracketed after "Kashmir") stays attached later in the text
        target = known.get((label, lower))
        abbreviation = _is_abbreviation(name)
        text = text_of(mention)
        # "Name (ABBR)" is the text saying they are one thing, even where NER typed them
        # differently ("Jaish-e-Mohammed" PER, "JeM" ORG); only a mention in brackets can be one
        bracketable = abbreviation and text[mention.end : mention.end + 1] == ")" and text[
            : mention.start].rstrip().endswith("(")
        candidates = [] if target is not None else groups if bracketable else same_label.get(label, [])
        for group in candidates:
            full = group["name"]
            if group["label"] == label and (lower == group["lower"] or _is_part_of(name, full)
                                            or (abbreviation and _initials(full) == lower)):
                target = group
                break
            if bracketable and any(
                    mentions[i].field == mention.field and _bracketed_after(text, mentions[i].end, mention)
                    for i in group["members"]):
                target = group
                break
        if target is None:
            target = {"name": name, "lower": lower, "label": label, "members": [index]}
            groups.append(target)
            same_label.setdefault(label, []).append(target)
        else:
            target["members"].append(index)
        known.setdefault((label, lower), target)
    entities = []
    for group in sorted(groups, key=lambda g: min(g["members"])):
        members = group["members"]
        if len(members) == 1:  # most entities: one mention, its own name and type
            label, aliases = labels[members[0]], []
        else:
            members.sort()
            votes = Counter([labels[i] for i in members])
            label = max(votes, key=lambda lab: (votes[lab], lab == group["label"]))  # ties: the full name's
            full = group["name"].lower()
            aliases = [form for form in dict.fromkeys(names[i] for i in members) if form.lower() != full]
        entities.append({
            "key": entity_key(label, group["name"]), "name": group["name"], "label": label,
            "aliases": aliases, "mention_count": len(members),
            "mentions": [{"field": mentions[i].field, "start": mentions[i].start, "end": mentions[i].end}
                         for i in members],
        })
    return _ENTITIES.validate_python(entities)  # one call for the article, not one per entity
