"""A real browser on the Practice tab: answer an item, click its citation, and see the
cited lines highlighted in the passage panel; ask the tutor about the item; reload and
keep the profile (Debian's Chromium through Playwright)."""

from __future__ import annotations

import re

import pytest

from tests.test_browser import CHROMIUM, FLAGS
from tutor.quiz.items import load_bank
from tutor.web.practice import question_about

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_answer_an_item_then_open_its_citation(web_url, session_settings, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    bank = {it.id: it for it in load_bank(session_settings.index_dir)}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(web_url)
        expect(page.locator("#status")).to_contain_text("Ready", timeout=60_000)
        profile = page.locator("#quiz-profile textarea, #quiz-profile input").first
        page.get_by_role("tab", name="Practice").click()
        # the browser got a profile of its own, without being asked for a name
        expect(profile).to_have_value(re.compile(r"^browser-[0-9a-f]{6}$"), timeout=30_000)
        name = profile.input_value()
        stem = page.locator("#quiz-stem")
        expect(stem).to_contain_text("item ", timeout=30_000)
        item = bank[re.search(r"item (\S+)", stem.inner_text()).group(1)]
        key = item.options["ABCD".index(item.answer)]
        page.locator("#quiz-options label").filter(has_text=f"{item.answer}) ").first.click()
        page.locator("#quiz-submit").click()
        feedback = page.locator("#quiz-feedback")
        expect(feedback).to_contain_text("Right.", timeout=30_000)
        expect(page.locator("#quiz-progress")).to_contain_text("1/")
        link = feedback.locator("a.quiz-cite")
        expect(link).to_contain_text(f"lines {item.citation.start_line}")
        link.click()
        passage = page.locator("#cite-quiz-1")
        expect(passage).to_have_class("passage active")
        mark = passage.locator("mark").first
        expect(mark).to_be_visible()
        expect(mark).to_be_in_viewport()
        assert key.split()[0].lower() in passage.inner_text().lower()
        expect(passage).to_contain_text(item.citation.section_path.split(" › ")[-1])
        page.screenshot(path=str(tmp_path / "practice.png"), full_page=True)
        # "Ask the tutor about this" asks the item's stem in the chat, and answers it
        page.locator("#quiz-ask").click()
        expect(page.get_by_role("tab", name="Chat")).to_have_attribute("aria-selected", "true")
        chat = page.locator("#chat")
        expect(chat).to_contain_text(question_about(item)[:40], timeout=30_000)
        expect(chat).to_contain_text(re.compile("Sources:|does not cover"), timeout=120_000)
        # a reload keeps the browser's profile and its progress
        page.reload()
        expect(page.locator("#status")).to_contain_text("Ready", timeout=60_000)
        page.get_by_role("tab", name="Practice").click()
        expect(profile).to_have_value(name, timeout=30_000)
        expect(page.locator("#quiz-progress")).to_contain_text(name)
        expect(page.locator("#quiz-progress")).to_contain_text("1/")
        browser.close()
