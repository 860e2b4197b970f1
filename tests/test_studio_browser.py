"""sculpt studio in a real browser: `sculpt studio` started on a free port as `make studio` starts it
(the shipped shapes model at its own steps, the default budget), driven by headless Chromium through
Playwright (no browser download: Debian's chromium). One server and one browser for the module; each
test starts its own run."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from types import SimpleNamespace

import pytest
from PIL import Image

from tests.studio_page import (BRIEF, INTERNAL, WATCH_CURRENT, disabled_because, events, free_port, get, paint,
                               rest, run_of, settled_reason, start, tree)
from tests.test_report_browser import BROWSER_ARGS, chromium

SECRET = "sk-studio-test-key-never-in-the-page"


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


def test_a_newcomer_types_a_brief_and_presses_enter(page, server):
    """The first thing a newcomer does, on the page's own defaults: no field may refuse its own value."""
    assert page.input_value("#steps input") == "0"  # the model's own steps
    page.fill("#msg textarea", BRIEF)
    page.press("#msg textarea", "Enter")
    page.wait_for_url("**/?run=*")
    rest(page)
    run_id = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["run"][0]
    n1 = tree(server, run_id)["nodes"]["n1"]
    assert n1["params"]["steps"] == 20  # the shapes model's recommended steps (its sculpt.json)
    assert "Error" not in page.inner_text("#chat")


def test_brief_image_checklist_then_variations_and_a_pick_that_stays_the_answer(page, server):
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
    rest(page, f"your pick {chosen}")
    pick = json.loads((server.runs / run_id / "picks.jsonl").read_text())
    nodes = tree(server, run_id)["nodes"]
    assert pick["chosen"] == nodes[chosen]["image"] and pick["node_ids"]["chosen"] == chosen
    assert set(pick) == {"time", "pick_id", "run_id", "brief", "chosen", "rejected", "critic", "critic_preference",
                         "node_ids"}  # the record the terminal chat writes (same graph node)
    assert len(pick["rejected"]) == 2 and pick["brief"] == BRIEF
    # A pick is the person's word: it becomes current and stays the answer, whatever the agent makes after.
    assert f"your turn — {chosen}" in page.inner_text("#status") and f"your pick {chosen}" in page.inner_text("#status")
    page.click("#step")
    rest(page, "spent 5 of")
    page.click("#stop")
    status = rest(page, "stopped")
    assert tree(server, run_id)["best"] == chosen and f"your pick {chosen}" in status
    assert page.locator(f"#tree [data-node='{chosen}'] .pick").count() == 1  # ★ your pick, in the tree


def test_region_branch_accept_and_reload(page, server):
    run_id = start(page)
    paint(page, (0.3, 0.45, 0.45, 0.6))
    page.fill("#region-prompt textarea", "a red circle")
    page.click("#region")
    rest(page, "spent 2 of")
    n2 = tree(server, run_id)["nodes"]["n2"]
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
    assert tree(server, run_id)["nodes"]["n3"]["origin"] == "n1"  # made where the person went back to
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
    rest(page, "spent 3 of")
    nodes = tree(server, run_id)["nodes"]
    assert nodes["root"]["image"] and {nodes[i]["parent"] for i in ("n1", "n2", "n3")} == {"root"}
    assert {nodes[i]["action"]["kind"] for i in ("n1", "n2", "n3")} == {"variations"}  # edits of it


def test_files_only_from_the_runs_folder_on_127_0_0_1_and_no_key(server, page):
    run_id = start(page)
    image = server.runs / run_id / tree(server, run_id)["nodes"]["n1"]["image"]
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


def where_the(server, run_id, node: str, shape: str) -> tuple[float, float, float, float]:
    """The box around the ``shape`` the shapes world's detector finds in a node's image, with a margin."""
    from tools.shapes.detect import detect

    image = Image.open(server.runs / run_id / tree(server, run_id)["nodes"][node]["image"])
    (found,) = [o for o in detect(image).objects if o.shape == shape]
    x0, y0, x1, y1 = found.box
    return max(0, x0 - .04), max(0, y0 - .04), min(1, x1 + .04), min(1, y1 + .04)


def test_a_persons_edit_changes_the_brief_and_is_never_reverted_silently(page, server):
    """Painted over the blue square: without words it asks "keep the blue square?"; with "a green
    circle" the brief changes with the person, in the chat and the checklist, and nothing goes back."""
    run_id = start(page)
    square = where_the(server, run_id, "n1", "square")
    paint(page, square)  # no words: the agent writes what goes there, and its repaint loses the square
    page.click("#region")
    rest(page, "keep “a blue square”?")
    assert page.locator("#keep-change").is_visible() and page.locator("#keep-brief").is_visible()
    assert settled_reason(page, "step", "first say").startswith("first say: keep “a blue square”?")  # not the agent's call
    assert tree(server, run_id)["current"] == "n2"  # the edit stays in view while the person decides
    page.click("#keep-brief")
    rest(page, "your turn — n1")  # back, because they said so
    assert "keep the brief as it was" in page.inner_text("#chat")
    assert tree(server, run_id)["nodes"]["n2"]["outcome"] == "drift"
    paint(page, square)
    page.fill("#region-prompt textarea", "a green circle")
    page.click("#region")
    rest(page, "your turn — n3")
    chat = page.inner_text("#chat")
    assert "the brief changes with you: “a blue square” → “a green circle”" in chat
    assert "“the red circle is left of the blue square” → “the red circle is left of the green circle”" in chat
    assert "↩" not in chat and not any(e["node"] == "backtrack" for e in events(server, run_id))
    assert "a green circle changed by you" in page.inner_text("#checklist").replace("\n", " ")
    t = tree(server, run_id)
    changed = [c for c in t["checklist"] if c.get("amended_by") == "person"]
    assert [c["text"] for c in changed] == ["a green circle", "the red circle is left of the green circle"]
    assert t["nodes"]["n3"]["amendment"]["by"] == "person" and t["nodes"]["n3"]["amendment"]["request"] == \
        "a green circle"
    assert t["current"] == "n3" and t["best"] == "n3"  # judged against the brief as the person changed it


def test_a_run_from_your_picture_ends_on_an_image_made_from_it(page, server, tmp_path):
    picture = tmp_path / "mine.png"
    Image.new("RGB", (256, 256), (250, 250, 250)).save(picture)  # nothing of the brief holds on it
    page.set_input_files("#upload input[type=file]", str(picture))
    page.wait_for_function("() => document.querySelector('#upload-note').innerText.includes('root of the next run')")
    assert not page.is_checked("#fresh input")  # fresh images only when the person allows them
    page.fill("#budget input", "4")
    run_id = start(page)
    page.click("#auto")
    rest(page, ended=True)
    t = tree(server, run_id)
    made = {i: n for i, n in t["nodes"].items() if n.get("action")}
    assert made and all(n["action"]["kind"] != "txt2img" for n in made.values())
    node, lineage = t["best"], []
    while node:
        lineage.append(node)
        node = t["nodes"][node].get("parent")
    assert lineage[-1] == "root" and t["nodes"]["root"]["image"]  # the answer descends from the picture
    assert json.loads((server.runs / run_id / "run.json").read_text())["spec"]["policy"]["allow_fresh"] is False


def test_an_upload_while_a_run_is_open_asks_what_it_is_for(page, server, tmp_path):
    run_id = start(page)
    before = len(events(server, run_id))
    picture = tmp_path / "mine.png"
    Image.new("RGB", (200, 160), (240, 220, 40)).save(picture)
    page.set_input_files("#upload input[type=file]", str(picture))
    page.wait_for_function("() => document.querySelector('#upload-note').innerText.includes('A run is open')")
    assert page.locator("#upload-new").is_visible() and page.locator("#upload-keep").is_visible()
    page.fill("#msg textarea", "a blue square, white background")
    page.click("#send")  # before saying: the text goes nowhere it was not meant for
    page.wait_for_function("() => document.querySelector('#msg-note').innerText.includes('what your image is for')")
    assert len(events(server, run_id)) == before and run_of(page) == run_id
    page.click("#upload-new")
    page.wait_for_function("() => !window.location.search.includes('run=')")
    assert "root of the next run" in page.inner_text("#upload-note")
    new_id = start(page, "a blue square, white background")
    assert new_id != run_id and tree(server, new_id)["nodes"]["root"]["image"]
    assert len(events(server, run_id)) == before  # the old run got nothing


def test_numbers_are_checked_next_to_their_field_and_the_page_never_turns_to_error(page, server):
    errors_shown = "() => Array.from(document.querySelectorAll('.error, .toast-body')).map(e => e.innerText).join('|')"
    assert "1 to 10000" in page.inner_text("#budget") and "1 to 1000" in page.inner_text("#steps")
    page.fill("#steps input", "100000")
    page.fill("#msg textarea", BRIEF)
    page.click("#send")
    page.wait_for_function("() => document.querySelector('#steps-note').innerText.includes('1 to 1000')")
    assert "?run=" not in page.url  # no run started
    assert page.input_value("#msg textarea") == BRIEF
    page.fill("#steps input", "0")
    page.fill("#budget input", "999999999999")
    page.locator("#budget input").blur()
    page.wait_for_function("() => document.querySelector('#budget-note').innerText.includes('1 to 10000')")
    assert page.inner_text("#steps-note") == ""  # fixed: its message went with its cause
    page.fill("#budget input", "8")
    page.locator("#budget input").blur()
    page.wait_for_function("() => document.querySelector('#budget-note').innerText === ''")
    run_id = start(page)
    page.fill("#budget input", "-5")
    page.click("#apply")
    page.wait_for_function("() => document.querySelector('#budget-note').innerText.includes('1 to 10000')")
    messages = "() => Array.from(document.querySelectorAll('#chat .message')).map(m => m.innerText)"
    chat = page.evaluate(messages)
    for strength, says in (("50", "at most 1"), ("0", "more than 0")):
        page.fill("#strength input", strength)
        page.click("#vary")
        page.wait_for_function(f"() => document.querySelector('#strength-note').innerText.includes('{says}')")
    assert page.evaluate(messages) == chat  # nothing the run refused is in the chat
    assert len([e for e in events(server, run_id) if e["node"] == "ask_human"]) == 0
    assert page.evaluate(errors_shown) == "" and "Error" not in page.inner_text("body")
    assert json.loads((server.runs / run_id / "run.json").read_text())["spec"]["budget"]["generations"] == 8
    log = server.log.read_text()  # no handler failed, and Gradio refused nothing before a handler saw it
    assert "gradio.exceptions.Error" not in log and "validate_outputs" not in log and "/agent/studio/" not in log


def test_everything_a_person_reads_is_in_plain_words(page, server, tmp_path):
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 40)
    page.set_input_files("#upload input[type=file]", str(corrupt))
    page.wait_for_function("() => document.querySelector('#upload-note').innerText.includes('readable')")
    assert not re.search(INTERNAL, page.inner_text("#upload-note"))  # no (UnidentifiedImageError)
    start(page)
    page.click("#step")
    rest(page, "spent 2 of")
    page.click("#step")
    rest(page, "spent")
    chat = page.inner_text("#chat")
    assert "✗ a red circle · the red circle is left of the blue square" in chat
    for where in ("#chat", "#status", "#checklist", "#tree"):
        text = page.inner_text(where)
        assert not re.search(INTERNAL, text, re.M), (where, re.search(INTERNAL, text, re.M))


def test_controls_tell_the_truth(page, server):
    page.fill("#msg textarea", "a purple elephant on the moon")
    page.click("#send")
    page.wait_for_function("() => document.querySelector('#msg-note').innerText.includes('elephant')")
    assert page.input_value("#msg textarea") == "a purple elephant on the moon"  # kept, to fix
    assert settled_reason(page, "step", "no run is open").startswith("no run is open")
    first = start(page)
    page.click("#runs input")  # the list is as fresh as the folder, without a Refresh
    page.wait_for_selector(f"ul.option-list li:has-text('{first}')")
    page.keyboard.press("Escape")
    assert settled_reason(page, "branch", "click an image") == "click an image of the tree first"
    page.locator("#tree [data-node='n1']").click()
    page.wait_for_function("() => !document.getElementById('branch').disabled")
    page.fill("#strength input", "50")
    page.click("#vary")
    page.wait_for_function("() => document.querySelector('#strength-note').innerText.length > 0")
    page.click("#new-run")  # old notes go with the run they were about
    page.wait_for_function("() => !window.location.search.includes('run=')")
    assert page.inner_text("#strength-note") == ""
    second = start(page, "a blue square, white background")
    page.click("#stop")
    status = rest(page, "stopped")
    page.get_by_text("Redo a region: paint on the image").click()
    page.wait_for_function("() => document.getElementById('region') && document.getElementById('region').title")
    for control in ("step", "auto", "accept", "region"):
        reason = settled_reason(page, control, "the run has ended")
        assert reason and "the run has ended" in reason, (control, reason)  # never silently reopened
    assert "the run has ended" in page.inner_text("#region-note") and "stopped" in status
    page.fill("#budget input", "-5")
    page.click("#apply")
    page.wait_for_function("() => document.querySelector('#budget-note').innerText.length > 0")
    page.click("#runs input")
    page.locator("ul.option-list li", has_text=first).click()
    page.wait_for_url(f"**/?run={first}")
    rest(page)
    assert page.inner_text("#budget-note") == "" and second not in page.url  # opening another run clears it


def test_the_image_shows_while_it_denoises_and_cancel_stops_it(page, server):
    """At 200 steps an image takes seconds: its previews show as it denoises, and Cancel stops it with
    nothing half-made kept; the run waits where it stood, comes back on a reload, and goes on."""
    page.fill("#steps input", "200")
    page.evaluate(WATCH_CURRENT)
    run_id = start(page)
    srcs = page.evaluate("window.__srcs")
    n1 = tree(server, run_id)["nodes"]["n1"]["image"]
    assert any("/previews/" in s for s in srcs) and srcs[-1].endswith(n1)  # frames first, then the image
    assert srcs.index(next(s for s in srcs if "/previews/" in s)) < srcs.index(srcs[-1])
    page.evaluate(WATCH_CURRENT)
    page.click("#step")
    page.wait_for_function("() => window.__srcs.some(s => s.includes('/previews/'))")  # mid-image
    assert disabled_because(page, "cancel") is None
    page.click("#cancel")
    rest(page, "your turn — n1")
    assert "cancelled" in page.inner_text("#answer-note") and "you stopped it" in page.inner_text("#chat")
    t = tree(server, run_id)
    assert set(t["nodes"]) == {"root", "n1"} and t["counters"]["cancelled"] == 1  # no new node
    page.reload()
    page.wait_for_selector("#checklist table.checklist")
    assert "your turn — n1" in rest(page)  # from the checkpoint, as it was left
    page.click("#step")  # and the next step works
    rest(page, "spent 2 of")
    assert "n2" in tree(server, run_id)["nodes"]
