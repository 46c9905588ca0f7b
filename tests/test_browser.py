"""A real browser: Debian's Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_ask_then_click_a_citation_shows_the_highlighted_passage(web_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    assert CHROMIUM.exists(), "Chromium is missing: `make test` installs it (apt chromium)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(web_url)
        expect(page.locator("#status")).to_contain_text("Ready", timeout=60_000)
        page.locator("#question textarea").fill("When should I pick EMR over Glue?")
        page.locator("#ask").click()
        answer = page.locator("#chat").get_by_text("Sources:")
        expect(answer).to_be_visible(timeout=60_000)
        page.locator('#chat a[href="#cite-1-1"]').first.click()
        passage = page.locator("#cite-1-1")
        expect(passage).to_have_class("passage active")
        mark = passage.locator("mark")
        expect(mark).to_be_visible()
        expect(mark).to_contain_text("Amazon EMR")
        expect(mark).to_be_in_viewport()
        expect(passage).to_contain_text("6. Choosing Between AWS Glue and Amazon EMR")
        shot = tmp_path / "citation.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        browser.close()


def test_ask_about_a_section_scopes_the_next_question(web_url):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(web_url)
        expect(page.locator("#status")).to_contain_text("Ready", timeout=60_000)
        page.get_by_text("Browse the guide").click()
        picker = page.get_by_role("combobox", name="Section")
        picker.click()
        picker.press_sequentially("Key Concepts in Data", delay=30)
        option = page.locator('[role=option][aria-label="— 4.3 Key Concepts in Data Encryption"]')
        option.click()
        section = page.locator("#sec-browse")
        expect(section).to_contain_text("4.3 Key Concepts in Data Encryption")
        page.locator("#ask-section").click()
        expect(page.locator("#scope")).to_contain_text("4.3 Key Concepts in Data Encryption")
        page.locator("#question textarea").fill("How are keys managed?")
        page.locator("#ask").click()
        expect(page.locator("#chat").get_by_text("Sources:")).to_be_visible(timeout=60_000)
        paths = page.locator("#passages .passage[id^='cite-1-'] .path").all_inner_texts()
        assert paths and all("4.3 Key Concepts in Data Encryption" in t for t in paths), paths
        expect(page.locator("#scope")).to_have_text("")  # the scope was for one question
        browser.close()
