"""The morning report from a batch folder as a night leaves it: what needs a person first, totals,
what was left undone and why, the worker timeline, the PNG contact sheet — and in a browser,
every image on the page loads."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from agent.batch.briefs import BatchItem
from agent.batch.report import report_rows, timeline, write_morning_report

T0 = 1_800_000_000.0


def night(tmp_path):
    """Six briefs: accepted, stopped on budget, failed (two workers died), invalid, running, never started."""
    items = [BatchItem(i + 1, b, i) for i, b in enumerate(["a red circle", "a blue square", "a green triangle",
                                                          ", ,", "a black diamond", "a white circle"])]
    colours = ["red", "blue", None, None, None, None]
    entries = {}
    for item, colour in zip(items, colours):
        if colour:
            (tmp_path / "runs" / item.key / "images").mkdir(parents=True)
            Image.new("RGB", (64, 64), colour).save(tmp_path / "runs" / item.key / "images" / "best.png")
    img = lambda i: f"runs/{items[i].key}/images/best.png"
    entries[items[0].key] = {"status": "accepted", "best_image": img(0), "best_score": 1.0, "generations": 2,
                             "usd": 0.01, "worker": "w1", "started": T0, "finished": T0 + 20,
                             "report": f"runs/{items[0].key}/report.html"}
    entries[items[1].key] = {"status": "budget", "best_image": img(1), "best_score": 0.5, "generations": 8,
                             "usd": 0.04, "worker": "w2", "started": T0 + 1, "finished": T0 + 61,
                             "stop_reason": "8 images spent"}
    entries[items[2].key] = {"status": "failed", "error": "2 workers died while running it; the last: killed",
                             "attempts": [{"worker": "w1", "started": T0 + 21, "finished": T0 + 30, "error": "x"},
                                          {"worker": "w2", "started": T0 + 62, "finished": T0 + 70, "error": "x"}]}
    entries[items[3].key] = {"status": "invalid", "error": "could not read", "worker": "w1", "started": T0 + 31,
                             "finished": T0 + 31.1}
    entries[items[4].key] = {"status": "running", "worker": "w1", "started": T0 + 32}
    return items, entries


def test_rows_put_what_needs_a_person_first(tmp_path):
    items, entries = night(tmp_path)
    rows = report_rows(entries, items, "night budget of 10 images reached (10 made)")
    assert [r["status"] for r in rows] == ["failed", "invalid", "budget", "running", "accepted", "queued"]
    assert rows[-1]["reason"].startswith("night budget")


def test_the_timeline_has_a_lane_per_worker_and_a_bar_per_attempt(tmp_path):
    items, entries = night(tmp_path)
    lanes = timeline(report_rows(entries, items), now=T0 + 100)["lanes"]
    assert [lane["name"] for lane in lanes] == ["w1", "w2"]
    bars = {(b["key"][:3], b["tone"]) for lane in lanes for b in lane["bars"]}
    assert bars == {("001", "good"), ("002", "short"), ("003", "bad"), ("004", "bad"), ("005", "running")}
    assert all(0 <= b["left"] <= 100 and b["left"] + b["width"] <= 100.5 for lane in lanes for b in lane["bars"])


def test_the_report_files(tmp_path):
    items, entries = night(tmp_path)
    write_morning_report(tmp_path, entries, items, night={"limits": {"images": 10}, "stopped": "night budget of "
                                                          "10 images reached (10 made)"}, now=T0 + 100)
    html = (tmp_path / "summary.html").read_text()
    assert "1 brief left undone: 006-a-white-circle" in html and "2 workers died on it" in html
    assert html.index("003-a-green-triangle") < html.index("001-a-red-circle")  # failed before accepted
    md = (tmp_path / "summary.md").read_text()
    assert "Stopped early: night budget of 10 images" in md
    sheet = Image.open(tmp_path / "summary.png")
    assert sheet.size == (6 * 148, 28 + 182)  # a title, then one row of six cards
    assert sheet.getpixel((10 - 2, 38 + 64)) == (207, 34, 46)  # the most urgent first, framed red: the failed one
    assert sheet.getpixel((2 * 148 + 10 + 64, 38 + 64)) == (0, 0, 255)  # third: the blue square, stopped on budget
    json.dumps(entries)  # what the report read is what batch.json holds


def test_the_report_renders_in_a_browser(tmp_path):
    from tests.test_report_browser import BROWSER_ARGS, chromium

    path = chromium()
    from playwright.sync_api import sync_playwright

    items, entries = night(tmp_path)
    write_morning_report(tmp_path, entries, items, night={"limits": {"images": 10}}, now=T0 + 100)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto((tmp_path / "summary.html").as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")
        assert len(images) == 4 and all(w > 0 for _, w in images), images  # 2 best images, on cards and rows
        assert page.locator(".card").count() == 6 and page.locator(".bar").count() == 6
        browser.close()


@pytest.fixture(autouse=True)
def _no_cached_thumbnails():
    from agent.batch import contact

    contact._THUMBS.clear()
