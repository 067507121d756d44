"""The live page in headless Chromium: opened first, then articles arrive through the real pipeline.

Needs Debian's ``chromium`` (``bin/dev setup`` installs it); Playwright drives it, no browser
download. The screenshot lands in ``test-output/`` (or ``WIRESTREAM_TEST_OUTPUT``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from services.ner import NerService
from services.sentiment import SentimentService
from services.storage import StorageService
from tests.conftest import ROOT, SEED_ARTICLE
from wirestream.clients import ensure_topics
from wirestream.db import open_store
from wirestream.producer import publish, read_inputs
from wirestream.testing import running_stage, serving_api
from wirestream.wirefile import parse_wire_text

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OUTPUT = Path(os.environ.get("WIRESTREAM_TEST_OUTPUT", ROOT / "test-output"))
SCRIPT = "<script>window.pwned = 1</script>"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (bin/dev setup installs it)")


def test_articles_appear_live_highlighted_and_untrusted_markup_stays_text(settings):
    from playwright.sync_api import sync_playwright

    ensure_topics(settings)
    store = open_store(settings)
    hostile = parse_wire_text(f"date 2025-03-01 Lima, Mar 1 (EFE) {SCRIPT} Peru's Congress met <b>today</b>.",
                              source="hostile")
    with serving_api(store) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            page.goto(url)
            page.wait_for_selector("#feed", state="attached")
            assert page.locator("article.card").count() == 0, "the page is open before any article exists"

            with running_stage(NerService(settings)), running_stage(SentimentService(settings)), \
                    running_stage(StorageService(settings)):
                sent = publish([*read_inputs([str(SEED_ARTICLE)]), hostile], settings).sent
                seed = sent[0]
                card = page.locator(f'article.card[data-id="{seed.id}"]')
                card.locator(".ent").first.wait_for(timeout=240_000)
                page.locator(f'article.card[data-id="{hostile.id}"]').wait_for(timeout=60_000)

            highlighted = {(span.inner_text(), span.get_attribute("class"))
                           for span in card.locator(".ent").all()}
            assert ("Reuven Azar", "ent ent-PER") in highlighted, highlighted
            assert ("Israel", "ent ent-LOC") in highlighted, highlighted
            assert ("Hamas", "ent ent-ORG") in highlighted, highlighted

            hostile_card = page.locator(f'article.card[data-id="{hostile.id}"]')
            assert SCRIPT in hostile_card.inner_text(), "the markup is shown as text"
            assert hostile_card.locator("script, b").count() == 0, "and never became elements"
            assert page.evaluate("typeof window.pwned") == "undefined"

            OUTPUT.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(OUTPUT / "live-page.png"), full_page=True)
            page.click(f'article.card[data-id="{seed.id}"] h2 a')
            page.wait_for_selector("table td a")
            page.screenshot(path=str(OUTPUT / "article-page.png"), full_page=True)
            assert page.evaluate("typeof window.pwned") == "undefined"

            # what a stage of one's own added is shown under its name, as text
            extended = store.get(hostile.id).article.model_copy(
                update={"extensions": {"alerts": {"note": SCRIPT, "rules": ["peru"]}}})
            store.upsert([extended])
            page.goto(f"{url}#/article/{hostile.id}")
            section = page.locator('section.extension[data-stage="alerts"]')
            section.wait_for(timeout=10_000)
            assert section.locator("h3").inner_text() == "alerts"
            assert '"note": "<script>window.pwned = 1</script>"' in section.locator("pre").inner_text()
            assert section.locator("script").count() == 0 and page.evaluate("typeof window.pwned") == "undefined"
            page.screenshot(path=str(OUTPUT / "article-extensions.png"), full_page=True)
        finally:
            browser.close()
