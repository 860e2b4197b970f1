"""Driving the studio's page in the browser tests: a brief, resting, painting, reading the run folder."""
from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request

BRIEF = "a red circle to the left of a blue square, yellow background"
AT_REST = "() => { const s = document.querySelector('#status'); return s && s.innerText.trim().length > 0 " \
          "&& !s.innerText.includes('⏳'); }"
# Every src the current image shows, in order (previews included), from the moment it is installed.
WATCH_CURRENT = """() => { window.__srcs = []; const box = document.querySelector('#current');
  const note = () => { const i = box.querySelector('img'); const s = i && i.getAttribute('src');
    if (s && window.__srcs[window.__srcs.length - 1] !== s) window.__srcs.push(s); };
  note(); new MutationObserver(note).observe(box, {subtree: true, childList: true, attributes: true}); }"""
# What a person must never read: ids, the policy's terms, exception class names, Gradio's error badge.
INTERNAL = r"\bg\d\.\w+|\btabu\b|no-progress|\btxt2img\b|\bimg2img\b|\b[A-Z]\w*Error\b|^Error$"


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


def run_of(page) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["run"][0]


def start(page, brief=BRIEF) -> str:
    page.fill("#msg textarea", brief)
    page.click("#send")
    page.wait_for_url("**/?run=*")
    page.wait_for_selector("#checklist table.checklist")
    rest(page)
    return run_of(page)


def rest(page, waiting_for: str | None = None, ended: bool = False) -> str:
    """Wait until the agent rests (a question, or the end: ``ended``), with ``waiting_for`` in its status line."""
    page.wait_for_timeout(150)  # the click's own event first
    test = AT_REST[:-3] + (f" && s.innerText.includes('{waiting_for}')" if waiting_for else "") + \
        (" && !s.innerText.includes('your turn')" if ended else "") + "; }"
    try:
        page.wait_for_function(test)
    except Exception:
        notes = page.evaluate("() => Object.fromEntries(['status', 'msg-note', 'answer-note', 'strength-note', "
                              "'region-note'].map(n => [n, (document.getElementById(n) || {}).innerText]))")
        raise AssertionError(f"the page did not come to rest{' at ' + waiting_for if waiting_for else ''}: {notes}")
    return page.inner_text("#status")


def tree(server, run_id) -> dict:
    return json.loads((server.runs / run_id / "tree.json").read_text())


def events(server, run_id) -> list[dict]:
    return [json.loads(line) for line in (server.runs / run_id / "events.jsonl").read_text().splitlines()]


def paint(page, box: tuple[float, float, float, float]) -> None:
    """Open the region tool and paint over ``box`` (fractions of the image) with the brush."""
    if not page.locator("#editor canvas").count() or not page.locator("#editor canvas").first.is_visible():
        page.get_by_text("Redo a region: paint on the image").click()  # opening it puts the image on the canvas
    page.wait_for_selector("#editor canvas")
    page.wait_for_timeout(500)
    page.locator("#editor button[aria-label='Brush']").click()
    canvas = page.locator("#editor canvas").first
    canvas.scroll_into_view_if_needed()
    c = canvas.bounding_box()
    x0, y0, x1, y1 = box
    for k in range(4):  # a few strokes across the box
        y = c["y"] + c["height"] * (y0 + (y1 - y0) * (k + 0.5) / 4)
        page.mouse.move(c["x"] + c["width"] * x0, y)
        page.mouse.down()
        page.mouse.move(c["x"] + c["width"] * x1, y, steps=6)
        page.mouse.up()


def settled_reason(page, elem_id: str, expected: str, timeout: float = 10_000) -> str | None:
    """The control's hover reason once it says ``expected`` (controls follow the status line by one
    redraw), or whatever it says when ``timeout`` ms have passed — for the test to assert on."""
    try:
        page.wait_for_function(f"() => {{ const b = document.getElementById('{elem_id}'); "
                               f"return b && b.disabled && (b.title || '').includes({expected!r}); }}", timeout=timeout)
    except Exception:  # the assertion that follows says what the control says instead
        pass
    return disabled_because(page, elem_id)


def disabled_because(page, elem_id: str) -> str | None:
    """The reason a control gives on hover for being disabled (None while it can act)."""
    return page.evaluate(f"() => {{ const b = document.getElementById('{elem_id}'); "
                         "return b.disabled ? (b.title || '') : null; }")
