"""RSS 2.0 and Atom feeds: conditional fetches and parsing into articles.

A fetch sends back the feed's own validators (``If-None-Match`` with its ETag, ``If-Modified-Since``
with its Last-Modified), so an unchanged feed costs a 304 and nothing is re-read. Items become
articles whose id is the item's guid/id (the source's own id); a title or category saying
CORRECTION or WITHDRAWN/KILL marks the article so.

>>> xml = b'''<rss version="2.0"><channel><title>t</title><item><guid>g1</guid><title>Snow</title>
... <description>Oslo, Jan 1 (NTB) Heavy &lt;b&gt;snow&lt;/b&gt; fell.</description>
... <pubDate>Wed, 01 Jan 2025 10:00:00 GMT</pubDate></item></channel></rss>'''
>>> [(a.id, a.headline, a.body, a.agency, str(a.published)) for a in parse_feed(xml, "feed")]
[('g1', 'Snow', 'Oslo, Jan 1 (NTB) Heavy snow fell.', 'NTB', '2025-01-01')]

Atom, with a correction that names the entry it corrects:

>>> atom = b'''<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>urn:x:2</id>
... <title>Snow (corrected)</title><category term="correction"/><link rel="related" href="urn:x:1"/>
... <updated>2025-01-02T08:00:00Z</updated><content type="html">&lt;p&gt;Oslo, Jan 2 (NTB) Snow.&lt;/p&gt;</content>
... </entry></feed>'''
>>> [(a.id, a.status, a.supersedes, a.body, str(a.published)) for a in parse_feed(atom, "feed")]
[('urn:x:2', 'correction', 'urn:x:1', 'Oslo, Jan 2 (NTB) Snow.', '2025-01-02')]
"""

from __future__ import annotations

import html
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime

from schemas import Article
from wirestream.wirefile import parse_dateline

ATOM = "{http://www.w3.org/2005/Atom}"
_TAG = re.compile(r"<[^>]+>")


class FeedError(ValueError):
    """The feed could not be fetched or parsed; the message says why."""


@dataclass(frozen=True)
class Fetched:
    status: int  # 200, or 304 when the validators matched
    body: bytes
    etag: str | None
    last_modified: str | None


def fetch(url: str, etag: str | None, last_modified: str | None, timeout_s: float = 10.0) -> Fetched:
    """GET the feed, conditional on the validators from the last 200."""
    request = urllib.request.Request(url, headers={"User-Agent": "wirestream-ingest/1"})
    if etag:
        request.add_header("If-None-Match", etag)
    if last_modified:
        request.add_header("If-Modified-Since", last_modified)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return Fetched(response.status, response.read(), response.headers.get("ETag"),
                           response.headers.get("Last-Modified"))
    except urllib.error.HTTPError as error:
        if error.code == 304:
            return Fetched(304, b"", etag, last_modified)
        raise FeedError(f"HTTP {error.code} from {url}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise FeedError(f"cannot fetch {url}: {error}") from None


def _text(value: str | None) -> str:
    """Markup stripped, entities decoded, whitespace kept to single spaces and paragraph breaks."""
    if not value:
        return ""
    value = re.sub(r"(?i)<\s*(br|/p)\s*/?>", "\n\n", value)
    value = html.unescape(_TAG.sub("", value))
    return "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", value) if p.strip())


def _date(value: str | None) -> date | None:
    if not value:
        return None
    value = value.strip()
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _status(title: str, categories: list[str]) -> str:
    marks = " ".join([title[:40], *categories]).upper()
    if re.search(r"\b(WITHDRAWN|WITHDRAWAL|KILL|KILLED)\b", marks):
        return "withdrawal"
    if re.search(r"\b(CORRECTION|CORRECTED|CORRECTS)\b", marks):
        return "correction"
    return "original"


def _article(guid: str, title: str, body: str, published: date | None, categories: list[str], source: str,
             supersedes: str | None) -> Article | None:
    body = _text(body) or _text(title)
    if not guid or not body:
        return None
    dateline = parse_dateline(body)
    return Article(
        id=guid[:256], story_id=guid[:256], source=source, headline=_text(title) or None, body=body,
        published=published, agency=dateline.agency if dateline else None, dateline=dateline.city if dateline else None,
        status=_status(title, categories), supersedes=supersedes,
    )


def parse_feed(content: bytes, source: str) -> list[Article]:
    """Articles of an RSS 2.0 or Atom document; raises :class:`FeedError` on anything else."""
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as error:
        raise FeedError(f"{source}: not well-formed XML ({error})") from None
    articles: list[Article | None] = []
    if root.tag == "rss":
        for item in root.iter("item"):
            guid = (item.findtext("guid") or item.findtext("link") or "").strip()
            articles.append(_article(
                guid, item.findtext("title") or "", item.findtext("description") or "",
                _date(item.findtext("pubDate")), [c.text or "" for c in item.findall("category")], source,
                None))
    elif root.tag == f"{ATOM}feed":
        for entry in root.iter(f"{ATOM}entry"):
            body = entry.findtext(f"{ATOM}content") or entry.findtext(f"{ATOM}summary") or ""
            related = next((link.get("href") for link in entry.findall(f"{ATOM}link") if link.get("rel") == "related"),
                           None)
            articles.append(_article(
                (entry.findtext(f"{ATOM}id") or "").strip(), entry.findtext(f"{ATOM}title") or "", body,
                _date(entry.findtext(f"{ATOM}published") or entry.findtext(f"{ATOM}updated")),
                [c.get("term", "") for c in entry.findall(f"{ATOM}category")], source, related))
    else:
        raise FeedError(f"{source}: neither RSS 2.0 nor Atom (root element {root.tag!r})")
    return [a for a in articles if a is not None]
