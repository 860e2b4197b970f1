"""sculpt studio in a real browser: `sculpt studio` started on a free port as `make studio` starts it
(the shipped shapes model at its own steps, the default budget), driven by headless Chromium through
Playwright (no browser download: Debian's chromium). One server and one browser for the module; each
test starts its own run."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from types import SimpleNamespace

import pytest
from PIL import Image

from tests.test_report_browser import BROWSER_ARGS, chromium

BRIEF = "a red circle to the left of a blue square, yellow background"
SECRET = "sk-studio-test-key-never-in-the-page"
AT_REST = "() => { const s = document.querySelector('#status'); return s && s.innerText.trim().length > 0 " \
          "&& !s.innerText.includes('⏳'); }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs = tmp_path_factory.mktemp("studio") / "runs"
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENAI_API_KEY": SECRET, "SCULPT_CONFIG": "/nonexistent.toml"}
    log = runs.parent / "server.log"
    with log.open("w") as out:
        # Started as `make studio` starts it (no --steps, no --budget): the page's own defaults must work.
        proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "studio", "--port", str(port), "--out", str(runs)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sculpt studio exited: {log.read_text()[-2000:]}")
        try:
            if get(url)[0] == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        pytest.fail(f"sculpt studio did not start: {log.read_text()[-2000:]}")
    yield SimpleNamespace(url=url, runs=runs, port=port, log=log)
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=BROWSER_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(server.url)
    page.wait_for_selector("#msg textarea")
    yield page
    page.close()


def start(page, brief=BRIEF) -> str:
    page.fill("#msg textarea", brief)
    page.click("#send")
    page.wait_for_url("**/?run=*")
    page.wait_for_selector("#checklist table.checklist")
    rest(page)
    return urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["run"][0]


def rest(page, waiting_for: str | None = None) -> str:
    """Wait until the agent rests (a question, or the end), with ``waiting_for`` in its status line."""
    page.wait_for_timeout(150)  # the click's own event first
    try:
        page.wait_for_function(AT_REST if not waiting_for else
                               AT_REST[:-3] + f" && s.innerText.includes('{waiting_for}'); }}")
    except Exception:
        notes = {n: page.inner_text(f"#{n}") for n in ("status", "msg-note", "answer-note", "vary-note", "region-note")}
        raise AssertionError(f"the page did not come to rest{' at ' + waiting_for if waiting_for else ''}: {notes}")
    return page.inner_text("#status")


def tree(server, run_id) -> dict:
    return json.loads((server.runs / run_id / "tree.json").read_text())["nodes"]


def test_a_newcomer_types_a_brief_and_presses_enter(page, server):
    """The first thing a newcomer does, on the page's own defaults: no field may refuse its own value."""
    assert page.input_value("#steps input") == "0"  # the model's own steps
    page.fill("#msg textarea", BRIEF)
    page.press("#msg textarea", "Enter")
    page.wait_for_url("**/?run=*")
    rest(page)
    run_id = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["run"][0]
    n1 = tree(server, run_id)["n1"]
    assert n1["params"]["steps"] == 20  # the shapes model's recommended steps (its sculpt.json)
    assert "Error" not in page.inner_text("#chat")


def test_brief_image_checklist_then_variations_and_a_pick(page, server):
    run_id = start(page)
    assert "your turn" in page.inner_text("#status")
    assert page.locator("#current img").evaluate("e => e.naturalWidth") > 0
    assert page.locator("#checklist tr").count() == 1 + 4  # a header and the brief's four requirements
    assert page.locator("#chat img").count() >= 1  # the step appeared in the chat, with its image
    page.click("#vary")
    page.wait_for_selector("#variations img")
    rest(page)
    thumbs = page.locator("#variations img")
    assert thumbs.count() == 3
    thumbs.nth(2).click()
    page.wait_for_function("() => document.querySelector('#pick').innerText.startsWith('Pick n')")
    chosen = page.inner_text("#pick").split()[-1]
    page.click("#pick")
    rest(page)
    pick = json.loads((server.runs / run_id / "picks.jsonl").read_text())
    nodes = tree(server, run_id)
    assert pick["chosen"] == nodes[chosen]["image"] and pick["node_ids"]["chosen"] == chosen
    assert set(pick) == {"time", "pick_id", "run_id", "brief", "chosen", "rejected", "critic", "critic_preference",
                         "node_ids"}  # the record the terminal chat writes (same graph node)
    assert len(pick["rejected"]) == 2 and pick["brief"] == BRIEF


def test_region_branch_accept_and_reload(page, server):
    run_id = start(page)
    page.get_by_text("Redo a region: paint on the image").click()  # opening it puts the image on the canvas
    page.wait_for_selector("#editor canvas")
    page.wait_for_timeout(500)
    page.locator("#editor button[aria-label='Brush']").click()
    canvas = page.locator("#editor canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.45
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 30, y + 30, steps=6)
    page.mouse.up()
    page.fill("#region-prompt textarea", "a red circle")
    page.click("#region")
    rest(page, "spent 2 of")
    n2 = tree(server, run_id)["n2"]
    assert n2["action"]["kind"] == "inpaint" and n2["prompt"] == "a red circle" and n2["parent"] == "n1"
    (r,) = n2["action"]["regions"]
    assert 0.1 < r["x0"] < r["x1"] < 0.6 and 0.2 < r["y0"] < r["y1"] < 0.8  # where the stroke was drawn
    assert page.locator("#tree [data-node='n2'] .region").count() == 1  # drawn on its thumbnail
    # Back to n1 (time travel in the checkpoint) and one step from there: a new branch.
    page.locator("#tree [data-node='n1']").click()
    page.wait_for_function("() => document.querySelector('#branch').innerText.includes('n1')")
    assert page.locator("#compare [data-cmp]").count() == 2  # n1 beside the best image
    page.click("#branch")
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('go on from n1')")
    rest(page, "n1")
    page.click("#step")
    rest(page, "spent 3 of")
    assert tree(server, run_id)["n3"]["origin"] == "n1"  # made where the person went back to
    page.click("#accept")
    status = rest(page, "accepted")
    chat, cards = page.locator("#chat .message").count(), page.locator("#tree [data-node]").count()
    page.reload()
    page.wait_for_selector("#tree [data-node='n3']")
    assert rest(page, "accepted") == status
    assert page.locator("#tree [data-node]").count() == cards == 4  # root, n1, n2, n3
    assert page.locator("#chat .message").count() == chat
    # A new run, then back to this one from the list of runs.
    page.click("#new-run")
    page.wait_for_function("() => !window.location.search.includes('run=')")
    page.click("#runs input")
    page.locator("ul.option-list li", has_text=run_id).click()
    page.wait_for_url(f"**/?run={run_id}")
    assert rest(page, "accepted") == status


def test_an_upload_is_checked_then_refined(page, server, tmp_path):
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 40)
    page.set_input_files("#upload input[type=file]", str(corrupt))
    page.wait_for_function("() => document.querySelector('#upload-note').innerText.includes('readable')")
    mine = tmp_path / "mine.png"
    Image.new("RGB", (96, 80), (240, 220, 40)).save(mine)
    page.set_input_files("#upload input[type=file]", str(mine))
    page.wait_for_function("() => document.querySelector('#upload-note').innerText.includes('root')")
    run_id = start(page)
    assert "root" in page.inner_text("#status")  # the first question is about the person's own image
    page.click("#vary")
    rest(page, "root")
    nodes = tree(server, run_id)
    assert nodes["root"]["image"] and {nodes[i]["parent"] for i in ("n1", "n2", "n3")} == {"root"}
    assert {nodes[i]["action"]["kind"] for i in ("n1", "n2", "n3")} == {"variations"}  # edits of it


def test_files_only_from_the_runs_folder_on_127_0_0_1_and_no_key(server, page):
    run_id = start(page)
    image = server.runs / run_id / tree(server, run_id)["n1"]["image"]
    (server.runs.parent / "secret.txt").write_text("not for the page")
    base = f"http://127.0.0.1:{server.port}/gradio_api/file="
    assert get(base + urllib.parse.quote(str(image)))[0] == 200
    for bad in (f"{server.runs}/../secret.txt", f"{server.runs}/{run_id}/../../secret.txt", "/etc/passwd",
                str(server.runs.parent / "secret.txt"), urllib.parse.quote(f"{server.runs}/../secret.txt", safe="")):
        assert get(base + bad)[0] in (403, 404), bad
    # The page and its config carry no key, though the server's environment has one.
    for path in ("", "config", "gradio_api/info"):
        assert SECRET.encode() not in get(server.url + path)[1]
    assert SECRET not in page.content()
    # Listening on loopback only: another address of this machine is refused.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 1))
            lan = s.getsockname()[0]
        except OSError:
            lan = None
    if lan and not lan.startswith("127."):
        with pytest.raises(OSError), socket.create_connection((lan, server.port), timeout=2):
            pass
