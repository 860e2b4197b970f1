"""docs/studio.png: the studio on a real run, as the README shows it.

    python -m evals.studio_screenshot [--out docs/studio.png]

Starts ``sculpt studio`` as ``make studio`` does (a fresh runs folder), types the README's brief,
paints over the blue square asking for "a green circle" (the brief changes with the person), asks
for variations, selects an image in the tree, and photographs the page in headless Chromium.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.studio_page import BRIEF, free_port, paint, rest, start, tree
from tests.test_report_browser import BROWSER_ARGS, chromium


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("docs/studio.png"))
    args = ap.parse_args(argv)
    from types import SimpleNamespace

    from PIL import Image
    from playwright.sync_api import sync_playwright

    from tools.shapes.detect import detect

    work = Path(tempfile.mkdtemp(prefix="sculpt-studio-shot-"))
    runs, port = work / "runs", free_port()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "SCULPT_CONFIG": "/nonexistent"}
    with (work / "studio.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "studio", "--port", str(port), "--out", str(runs)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(360):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        server = SimpleNamespace(runs=runs)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.wait_for_selector("#msg textarea")
            run_id = start(page, BRIEF)
            image = Image.open(runs / run_id / tree(server, run_id)["nodes"]["n1"]["image"])
            square = next(o for o in detect(image).objects if o.shape == "square")
            x0, y0, x1, y1 = square.box
            paint(page, (max(0, x0 - .04), max(0, y0 - .04), min(1, x1 + .04), min(1, y1 + .04)))
            page.fill("#region-prompt textarea", "a green circle")
            page.click("#region")
            rest(page, "spent 2 of")
            page.get_by_text("Redo a region: paint on the image").click()  # closed again: the page fits
            page.click("#vary")
            rest(page, "spent 5 of")
            page.locator("#tree [data-node='n2']").click()
            page.wait_for_function("() => document.querySelector('#branch').innerText.includes('n2')")
            page.click("button[aria-label='Toggle Sidebar']")  # the page itself, without the sidebar
            page.wait_for_timeout(800)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            height = page.evaluate("() => document.querySelector('#compare').getBoundingClientRect().bottom + "
                                   "window.scrollY + 16")
            page.screenshot(path=str(args.out), full_page=True, clip={"x": 0, "y": 0, "width": 1400, "height": height})
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
