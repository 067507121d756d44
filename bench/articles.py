"""The benchmarks' input: BBC articles from the public data (never committed), as wire articles."""

from __future__ import annotations

from pathlib import Path

from schemas import Article
from wirestream.wirefile import parse_wire_text


def bbc_articles(data_dir: Path, count: int) -> list[Article]:
    """``count`` BBC articles, spread over the five categories.

    Past the smallest category's size the articles repeat (source ``path#2``, ...), for benchmarks
    of more articles than the data has; ids come from the text, so a repeat shares its original's.
    """
    folders = sorted(p for p in (data_dir / "news" / "bbc").iterdir() if p.is_dir())
    files = [sorted(folder.glob("*.txt")) for folder in folders]
    articles = []
    for i in range(count):
        folder = files[i % len(files)]
        turn, index = divmod(i // len(files), len(folder))
        path = folder[index]
        headline, body = path.read_text(encoding="latin-1").strip().split("\n", 1)
        source = str(path) if turn == 0 else f"{path}#{turn + 1}"
        articles.append(parse_wire_text(body.strip(), source=source, headline=headline.strip()))
    return articles
