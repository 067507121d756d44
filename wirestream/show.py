"""Readable terminal tables of articles, stored or enriched in-process."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence

from schemas import Article, EnrichedArticle
from wirestream.db import StoredArticle


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*headers), line.format(*("-" * w for w in widths))]
    out.extend(line.format(*row) for row in rows)
    return "\n".join(out)


def articles_table(stored: Sequence[StoredArticle]) -> str:
    """One line per article: the columns a reader scans first.

    >>> print(articles_table([]))
    id  published  dateline  agency  chars  stages  opening
    --  ---------  --------  ------  -----  ------  -------
    """
    rows = []
    for item in stored:
        a = item.article
        rows.append(
            [
                a.id[:12],
                a.published.isoformat() if a.published else "-",
                a.dateline or "-",
                a.agency or "-",
                str(len(a.body)),
                str(len(a.trace)),
                textwrap.shorten(a.headline or a.body, 60, placeholder=" ..."),
            ]
        )
    return _table(["id", "published", "dateline", "agency", "chars", "stages", "opening"], rows)


def article_detail(item: StoredArticle | Article) -> str:
    """Everything known about one article: fields, when stored, enrichment that is present, and its trace."""
    a = item.article if isinstance(item, StoredArticle) else item
    if not isinstance(a, EnrichedArticle):  # a stage's output before any enrichment: nothing to show for it
        a = EnrichedArticle.model_validate(a.model_dump())
    lines = [
        f"article {a.id}",
        f"  story {a.story_id} v{a.version} from {a.source}",
        f"  published {a.published or '-'}  dateline {a.dateline or '-'}  agency {a.agency or '-'}",
    ]
    if isinstance(item, StoredArticle):
        lines.append(f"  stored {item.first_stored_at:%Y-%m-%d %H:%M:%S}Z, updated {item.updated_at:%H:%M:%S}Z")
    lines.append("  " + textwrap.shorten(a.body, 200, placeholder=" ..."))
    if a.tone is not None:
        lines.append(f"  tone: {a.tone.label} ({a.tone.score:.2f})")
    if a.entities:
        stance = {s.entity_key: s for s in a.stances}
        rows = [
            [
                e.name,
                e.label,
                str(e.mention_count),
                ", ".join(e.aliases) or "-",
                f"{stance[e.key].label} ({stance[e.key].score:.2f})" if e.key in stance else "-",
            ]
            for e in a.entities
        ]
        lines.append(textwrap.indent(_table(["entity", "label", "mentions", "aliases", "stance"], rows), "  "))
    for stage, found in a.extensions.items():  # what stages of one's own added
        lines.append(f"  {stage}: " + textwrap.shorten(json.dumps(found, ensure_ascii=False), 200, placeholder=" ..."))
    trace = [[t.service, t.version, t.model or "-", t.instance, f"{t.duration_ms:.0f} ms"] for t in a.trace]
    lines.append(textwrap.indent(_table(["stage", "version", "model", "instance", "time"], trace), "  "))
    return "\n".join(lines)
