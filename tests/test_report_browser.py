"""report.html in a real browser (headless Chromium via Playwright): every image loads from the run
folder, the tree, best path, regions and checklist are on the page as the run left them."""
from __future__ import annotations

import os
import shutil

import pytest

from agent.critics.scripted import ScriptedCritic
from agent.lifecycle import run_brief
from agent.spec import RunSpec

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync", "--disable-quic"]


def chromium() -> str:
    path = os.environ.get("SCULPT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("no Chromium on this machine: apt-get install chromium (CI installs it)")
    return path


def test_report_renders_in_a_browser(tmp_path, shapes_engine):
    from playwright.sync_api import sync_playwright

    script = {"critiques": [
        {"fail": ["g0.object"], "regions": {"g0.object": [0.0, 0.3, 0.4, 0.7]}},
        {"fail": ["g1.object", "g0.left_of.g1"]},  # the repaint lost the square (and the relation): drift
        {"fail": ["g0.left_of.g1"]}, {"pass": "all"}, {"fail": ["g0.object", "background"]},
    ]}
    spec = RunSpec(brief="a red circle to the left of a blue square, yellow background", budget={"generations": 8},
                   policy={"confirm_accept": False})
    res = run_brief(spec, tmp_path, engine=shapes_engine, critic=ScriptedCritic(script))
    nodes = res.state["nodes"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto((res.run_dir / "report.html").as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")
        assert images and all(width > 0 for _, width in images), f"images that did not load: {images}"
        shown = {src for src, _ in images}
        assert shown >= {n["image"] for n in nodes.values() if n.get("image")}
        assert page.locator(".card").count() == len(nodes)  # the root and every image
        assert page.locator("li.best").count() == 3  # root -> n1 -> n4, the accepted variation
        assert page.locator(".region").count() == 1  # the inpainted region drawn on n2
        assert page.locator(".badge.drift").count() == 1
        rows = page.locator("table").first.locator("tr")
        assert rows.count() == 1 + len(res.state["checklist"])
        assert "accepted" in page.inner_text("body")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
