"""The explorer in a real browser: Debian's headless Chromium driven by Playwright, against a
uvicorn server started by the test. Every wait is on a page condition (Playwright's
auto-waiting), never on time."""

import re
from pathlib import Path

import pytest

from lmsys_pipeline.explorer.app import create_app
from lmsys_pipeline.explorer.settings import ExplorerSettings
from lmsys_pipeline.explorer.warm_search import WarmSearch
from lmsys_pipeline_tests.explorer.built import SCRIPT, STOLEN
from lmsys_pipeline_tests.support.web import CHROMIUM, chromium, serving

pytestmark = [
    pytest.mark.slow,
    pytest.mark.subprocess,  # Chromium and Playwright's driver
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
]
playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect


@pytest.fixture(scope="module")
def browser():
    with chromium() as context:
        yield context


@pytest.fixture
def page(browser):
    opened = browser.new_page()
    opened.set_viewport_size({"width": 1400, "height": 900})
    dialogs: list[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    opened.dialogs = dialogs
    yield opened
    opened.close()


def _server(url: str, minilm, **settings):
    app = create_app(ExplorerSettings(db_url=url, editor="browser", **settings))
    app.state.explorer.warm = WarmSearch({minilm.name: minilm})
    return serving(app)


def test_runs_to_a_run_to_a_category_to_a_cluster_to_a_query(sqlite_explorer, minilm, page):
    url, built = sqlite_explorer
    with _server(url, minilm) as base:
        page.goto(base)
        page.get_by_role("link", name=built.run_a, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(built.run_a)
        category = page.locator("#tree details.node").first
        leaf = category.locator(":scope > ul > li.leaf a").first
        expect(leaf).to_be_hidden()
        category.locator(":scope > summary").click()
        expect(leaf).to_be_visible()
        title = leaf.inner_text()
        leaf.click()
        expect(page.locator("h1.cluster-title")).to_have_text(title)
        first = page.locator("#central ol.queries a").first
        text = first.inner_text()
        first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Query \d+$"))
        assert page.locator("pre.query-text").inner_text().startswith(text.rstrip("."))


def test_search_shows_the_stolen_card_first(sqlite_explorer, minilm, page):
    url, built = sqlite_explorer
    with _server(url, minilm) as base:
        page.goto(f"{base}/search")
        page.get_by_label("search text").fill(STOLEN)
        page.get_by_label("search text").press("Enter")
        first = page.locator("table.hits tbody tr").first.locator("td.text a")
        expect(first).to_have_text(STOLEN)
        expect(first).to_have_attribute("href", f"/queries/{built.stolen}")


def test_rename_shows_the_title_and_the_audit_row_then_undo(sqlite_explorer, minilm, page):
    url, built = sqlite_explorer
    with _server(url, minilm) as base:
        page.goto(f"{base}/queries/{built.stolen}")
        page.locator("table a").filter(has_text=re.compile(r"^\d+$")).last.click()
        heading = page.locator("h1.cluster-title")
        before = heading.inner_text()
        rename = page.locator("form[action$='/edit/rename']")
        rename.get_by_label("Title").fill("Lost and stolen cards")
        rename.get_by_label("Your name").fill("ana")
        rename.get_by_label("Reason").fill("clearer")
        rename.get_by_role("button", name="Rename").click()
        expect(heading).to_have_text("Lost and stolen cards")
        row = page.locator("#history table.edits tbody tr").first
        expect(row).to_contain_text("rename")
        expect(row).to_contain_text("ana")
        expect(row).to_contain_text("Lost and stolen cards")
        row.get_by_role("button", name=re.compile(r"^Undo edit \d+$")).click()
        expect(heading).to_have_text(before)
        expect(page.locator("#history table.edits tbody tr").first).to_contain_text("undo")
        expect(page.locator("#history tr.undone")).to_have_count(1)


def test_read_only_refuses_the_edit(sqlite_explorer, minilm, page):
    url, built = sqlite_explorer
    with _server(url, minilm, read_only=True) as base:
        page.goto(f"{base}/queries/{built.stolen}")
        page.locator("table a").filter(has_text=re.compile(r"^\d+$")).last.click()
        expect(page.locator("h1.cluster-title")).to_be_visible()
        expect(page.locator("#curate")).to_have_count(0)
        expect(page.locator("form[action*='/edit/']")).to_have_count(0)
        token = page.request.get(f"{base}/api/session").json()["csrf_token"]
        refused = page.request.post(
            page.url.split("?")[0] + "/edit/rename",
            form={"csrf_token": token, "alias": "kw", "title": "nope"},
        )
        assert refused.status == 403 and "read-only" in refused.text()


def test_a_planted_script_shows_literally_and_opens_no_dialog(sqlite_explorer, minilm, page):
    url, built = sqlite_explorer
    with _server(url, minilm) as base:
        page.goto(f"{base}/queries/{built.script}")
        expect(page.locator("pre.query-text")).to_have_text(SCRIPT)
        page.goto(f"{base}/search?q={SCRIPT}")
        expect(page.locator("table.hits tbody tr").first.locator("td.text a")).to_have_text(SCRIPT)
        page.locator("table.hits tbody tr").first.locator("td.text a").click()
        expect(page.locator("pre.query-text")).to_have_text(SCRIPT)
        page.locator("table a").filter(has_text=re.compile(r"^\d+$")).last.click()
        page.get_by_label("Text").fill("alert(1)")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("table.members td.text")).to_have_text([SCRIPT])
        assert page.dialogs == []


def test_the_map_colours_every_category_and_names_them_in_a_legend(sqlite_explorer, minilm, page):
    """Categories kept at a lower level (orphans) stand at the top of the tree: the map gives
    them a colour of their own, and its legend names every top-level group (grey: noise)."""
    url, built = sqlite_explorer
    with _server(url, minilm) as base:
        page.goto(f"{base}/runs/{built.run_a}")
        page.wait_for_selector("[data-map-src][data-points]")
        roots = page.request.get(f"{base}/api/runs/{built.run_a}").json()["tree"]
        entries = page.locator(".map-legend li").all_inner_texts()
        assert len(entries) == len([r for r in roots if r["queries"]])
        for root in roots:
            assert any(e.startswith(f"{root['title']} (") for e in entries), root["title"]
        assert not any(e.startswith("noise") for e in entries)  # KMeans leaves no noise
