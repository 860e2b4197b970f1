"""sculpt studio without a browser: its handlers called as the page calls them, on the shapes model,
and the parts that keep it safe (run ids, uploads, regions, downloads, hosts)."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
from PIL import Image

from agent.studio.files import RunsFolder
from agent.studio.regions import region_of
from agent.studio.server import host_warning, parse_auth
from tools.errors import InputError

BRIEF = "a red circle to the left of a blue square, yellow background"


@pytest.fixture(scope="module")
def studio(tmp_path_factory, shapes_engine):
    """The studio's page and handlers, built in this process (not served)."""
    from agent.settings import load_settings
    from agent.studio.app import build_app

    root = tmp_path_factory.mktemp("studio-runs")
    demo = build_app(root, load_settings(budget=8, steps=4), engine=shapes_engine)
    yield demo.studio_handlers
    demo.studio_pool.close()


def send(h, text, **settings):
    args = {"upload": None, "fresh": False, "images": 8, "seconds": None, "usd": None, "seed": 0, "steps": 4,
            "critic": "scene", "critic_url": "", "model": "shapes", **settings}
    out = h.send(text, "", None, *args.values())
    run_id = out.get(h.ui.run_id)
    final = list(h.follow(run_id))[-1] if run_id else out
    return run_id, {**out, **final}


def test_a_brief_becomes_a_question_and_bad_input_is_a_message(studio):
    h, ui = studio, studio.ui
    run_id, out = send(h, BRIEF)
    assert out[ui.run_id] == run_id and "your turn" in out[ui.status]
    assert "table class='checklist'" in out[ui.checklist] and out[ui.image].endswith(".png")
    step = out[ui.q_step]
    # A strength out of range, a region of zero area, nothing drawn: messages, and nothing sent.
    assert "strength" in h.vary(run_id, step, 1.5)[ui.strength_note]
    zero = h.region(run_id, step, None, "0.2 0.2 0.2 0.5", "a red circle")[ui.region_note]
    assert "is empty" in zero and "bug" not in zero
    assert "draw over" in h.region(run_id, step, None, "", "")[ui.region_note]
    assert "variations first" in h.pick(run_id, step, None)[ui.vary_note]
    # A stale page (another tab answered) is told so instead of answering a question it did not see.
    assert "moved on" in h.answer("accept")(run_id, step - 1)[ui.answer_note]
    # The run is still usable: typed text is feedback while a question is open, then accept.
    h.send("make the square bigger", run_id, step, None, False, 8, None, None, 0, 4, "scene", "", "shapes")
    fed = list(h.follow(run_id))[-1]
    assert {"role": "user", "content": "make the square bigger"} in fed[ui.chat] and "spent 2 of" in fed[ui.status]
    h.answer("accept")(run_id, fed[ui.q_step])
    final = list(h.follow(run_id))[-1]
    assert "accepted" in final[ui.status] and not final[ui.answer_note]


def test_a_brief_the_shapes_world_cannot_read_leaves_a_message_and_no_run(studio):
    run_id, out = send(studio, "a purple elephant on the moon")
    note = out[studio.ui.msg_note]
    assert note.startswith("<span class='err'>") and "elephant" in note and "the critic" not in note
    assert out[studio.ui.run_id] == "" and not (studio.folder.root / run_id).exists()


def test_an_unreachable_critic_is_a_message(studio, monkeypatch):
    monkeypatch.setenv("SCULPT_VLM_MAX_RETRIES", "0")
    monkeypatch.setenv("SCULPT_VLM_TIMEOUT", "2")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-used")
    _, out = send(studio, BRIEF, critic="openai:gpt-4o-mini", critic_url="http://127.0.0.1:9/v1")
    assert "critic" in out[studio.ui.msg_note] and "Traceback" not in out[studio.ui.msg_note]


def test_runs_folder_serves_only_its_own_runs(tmp_path):
    folder = RunsFolder(tmp_path / "runs")
    run = folder.root / "20260101-000000-abcdef"
    (run / "images").mkdir(parents=True)
    (run / "run.json").write_text("{}")
    (run / "images" / "a.png").write_bytes(b"png")
    (tmp_path / "secret.txt").write_text("no")
    assert folder.run_dir(run.name) == run
    assert folder.file(run.name, "images/a.png") == (run / "images" / "a.png").resolve()
    for bad in ("..", "../runs", "/etc", ".studio", "a/b", "", "20260101-000000-abcdef/../.."):
        with pytest.raises(InputError):
            folder.run_dir(bad)
    for bad in ("../../secret.txt", "/etc/passwd", "images/../../../secret.txt", "images"):
        with pytest.raises(InputError):
            folder.file(run.name, bad)


def test_uploads_are_checked(tmp_path, monkeypatch):
    folder = RunsFolder(tmp_path / "runs")
    good = tmp_path / "mine.png"
    Image.new("RGB", (40, 30), "yellow").save(good)
    assert folder.check_upload(str(good)) == good
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(good.read_bytes()[:60])  # a truncated PNG
    with pytest.raises(InputError, match="not a readable image"):
        folder.check_upload(corrupt)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(InputError, match="PNG, JPEG or WebP"):
        folder.check_upload(text)
    monkeypatch.setattr("agent.studio.files.MAX_UPLOAD_PIXELS", 100)
    with pytest.raises(InputError, match="megapixels"):
        folder.check_upload(good)


def test_a_region_is_the_box_around_the_strokes_on_the_image():
    canvas = np.zeros((100, 200, 4), np.uint8)  # the editor's canvas: the image sits in its middle
    background = canvas.copy()
    background[:, 50:150, 3] = 255
    strokes = canvas.copy()
    strokes[20:40, 60:100, 3] = 200
    assert region_of({"background": background, "layers": [strokes]}, "") == [0.1, 0.2, 0.5, 0.4]
    assert region_of(None, "0.1, 0.2 0.5 0.6") == [0.1, 0.2, 0.5, 0.6]
    with pytest.raises(InputError, match="draw over"):
        region_of({"background": background, "layers": [canvas]}, "")
    with pytest.raises(InputError, match="four numbers"):
        region_of(None, "left half")


def test_a_download_is_the_png_with_its_metadata_inside(studio):
    h = studio
    run_id, out = send(h, BRIEF)
    path = out[h.ui.dl_current]["value"]
    snap = json.loads((h.folder.run_dir(run_id) / "tree.json").read_text())
    node = snap["nodes"][snap["current"]]
    with Image.open(path) as im, Image.open(h.folder.run_dir(run_id) / node["image"]) as original:
        info = json.loads(im.text["sculpt"])
        assert np.array_equal(np.asarray(im), np.asarray(original))  # the same pixels
        assert info["node"]["seed"] == node["seed"] and info["image"]["model"]["revision"]
        assert f"Seed: {node['seed']}" in im.text["parameters"]


def test_safe_defaults_for_hosts_and_auth():
    assert host_warning("127.0.0.1", None, False) is None and host_warning("localhost", None, False) is None
    assert "--auth" in host_warning("0.0.0.0", None, False)
    assert "--auth" not in host_warning("0.0.0.0", ("u", "p"), False)
    assert "public" in host_warning("127.0.0.1", None, True)
    assert parse_auth("ann:secret") == ("ann", "secret") and parse_auth(None) is None
    for bad in ("ann", ":x", "ann:"):
        with pytest.raises(InputError):
            parse_auth(bad)


class CountingEngine:
    """The shapes engine, counting how many image-making calls run at once."""

    def __init__(self, engine):
        import threading

        self._engine, self._lock, self.running, self.most = engine, threading.Lock(), 0, 0

    def __getattr__(self, name):
        attr = getattr(self._engine, name)
        if name not in ("txt2img", "img2img", "inpaint", "variations"):
            return attr

        def call(*args, **kwargs):
            with self._lock:
                self.running += 1
                self.most = max(self.most, self.running)
            try:
                time.sleep(0.02)  # long enough for a second tab to collide, if it could
                return attr(*args, **kwargs)
            finally:
                with self._lock:
                    self.running -= 1
        return call


def test_autopilot_and_two_tabs_take_turns_at_one_engine(tmp_path, shapes_engine):
    from agent.settings import load_settings
    from agent.studio.app import build_app

    engine = CountingEngine(shapes_engine)
    demo = build_app(tmp_path, load_settings(budget=6, steps=4), engine=engine)
    h, ui = demo.studio_handlers, demo.studio_handlers.ui
    a, out_a = send(h, BRIEF)
    b, out_b = send(h, "a small green triangle above a large purple diamond, white background")
    h.autopilot(a, out_a[ui.q_step])  # two tabs, each on autopilot
    h.autopilot(b, out_b[ui.q_step])
    ends = [list(h.follow(a))[-1], list(h.follow(b))[-1]]
    assert engine.most == 1  # never two images at once
    for end in ends:
        assert any(s in end[ui.status] for s in ("accepted", "budget", "plateau")), end[ui.status]
    # Stop: the autopilot answers no further question after the current image.
    c, out_c = send(h, BRIEF, seed=0)
    h.autopilot(c, out_c[ui.q_step])
    h.halt(c)
    views = list(h.follow(c))
    assert "⏳" in views[0][ui.status]  # the page shows the agent at work
    assert any(m.get("metadata", {}).get("status") == "pending" for m in views[0][ui.chat])
    assert "your turn" in views[-1][ui.status]
    assert sum(e.node == "ask_human" for e in h.pool.job(c).events) == 1  # one answer, then it stopped
    demo.studio_pool.close()


def test_a_restarted_server_finds_each_run_at_its_question(tmp_path, shapes_engine):
    from agent.settings import load_settings
    from agent.studio.app import build_app

    first = build_app(tmp_path, load_settings(budget=6, steps=4), engine=shapes_engine)
    run_id, before = send(first.studio_handlers, BRIEF)
    ui = first.studio_handlers.ui
    first.studio_pool.close()  # the server stops
    again = build_app(tmp_path, load_settings(budget=6, steps=4), engine=shapes_engine)
    h = again.studio_handlers
    after = h.open_run(run_id)  # from the checkpoint on disk
    assert after[h.ui.q_step] == before[ui.q_step] and after[h.ui.status] == before[ui.status]
    assert after[h.ui.chat] == before[ui.chat] and after[h.ui.tree] == before[ui.tree]
    assert [e.run_id for e in h.folder.runs()] == [run_id]
    h.answer("accept")(run_id, after[h.ui.q_step])
    assert "accepted" in list(h.follow(run_id))[-1][h.ui.status]
    again.studio_pool.close()


def test_a_page_cannot_send_the_server_s_key_to_a_critic_server_of_its_choosing():
    from agent.studio.panels import critic_url
    from tools.errors import InputError

    assert critic_url("", "http://localhost:8000/v1") is None
    assert critic_url(" http://localhost:8000/v1 ", "http://localhost:8000/v1") == "http://localhost:8000/v1"
    with pytest.raises(InputError, match="may not send the server's API key"):
        critic_url("http://attacker.example/v1", "http://localhost:8000/v1")
    with pytest.raises(InputError):
        critic_url("http://attacker.example/v1", None)


def test_apply_changes_only_what_the_person_edited(studio):
    h, ui = studio, studio.ui
    run_id, out = send(h, BRIEF, images=6)
    opened = h.open_run(run_id)
    assert opened[ui.images] == 6 and opened[ui.critic] == "scene"  # the sidebar shows the run's own
    assert "nothing to change" in h.apply(run_id, 6, "scene", "")[ui.settings_note]
    assert "made 1 images already" in h.apply(run_id, 1, "scene", "")[ui.images_note]
    done = h.apply(run_id, 10, "scene", "")
    assert "applied" in done[ui.settings_note]
    spec = json.loads((h.folder.run_dir(run_id) / "run.json").read_text())["spec"]
    assert spec["budget"]["generations"] == 10 and spec["critic"] == "scene"
    h.answer("stop")(run_id, h.open_run(run_id)[ui.q_step])
    list(h.follow(run_id))


class SlowEngine:
    """The shapes engine, every denoising step taking a while: long enough for a person to cancel."""

    def __init__(self, engine, seconds: float = 0.15):
        self._engine, self.seconds = engine, seconds

    def __getattr__(self, name):
        attr = getattr(self._engine, name)
        if name not in ("txt2img", "img2img", "inpaint", "variations"):
            return attr

        def call(*args, on_step=None, **kwargs):
            page = on_step
            if page is not None:
                from tools.engine.preview import StepHook

                def slow(image, step, steps):
                    time.sleep(self.seconds)
                    if page.on_preview:
                        page.on_preview(image, step, steps)
                on_step = StepHook(on_preview=slow, every=1, share=None)
                on_step._cancel = page._cancel  # the page's Cancel
            return attr(*args, on_step=on_step, **kwargs)
        return call


def test_cancel_stops_the_image_nothing_half_made_is_kept_and_the_run_goes_on(tmp_path, shapes_engine):
    from agent.run_files import RunFolder
    from agent.settings import load_settings
    from agent.studio.app import build_app

    demo = build_app(tmp_path, load_settings(budget=8, steps=8), engine=SlowEngine(shapes_engine))
    h, ui = demo.studio_handlers, demo.studio_handlers.ui
    run_id, out = send(h, BRIEF, steps=8)
    before = RunFolder.read(h.folder.run_dir(run_id))
    h.vary(run_id, out[ui.q_step], 0.5)
    job = h.pool.job(run_id)
    deadline = time.monotonic() + 30
    while job.preview is None and time.monotonic() < deadline:  # the image is being made: its preview shows
        time.sleep(0.02)
    assert job.preview is not None and "/previews/" in job.preview[0]
    h.cancel(run_id)
    views = list(h.follow(run_id))
    after = RunFolder.read(h.folder.run_dir(run_id))
    assert set(after.state.nodes) == set(before.state.nodes)  # no new node, nothing half-made
    (cancelled,) = [e for e in after.events if e.node == "generate" and e.cancelled]
    assert cancelled.action == "variations" and after.state.counters["cancelled"] == 1
    assert "your turn" in views[-1][ui.status] and "cancelled" in views[-1][ui.answer_note]
    assert "cancelled: you stopped it" in str(views[-1][ui.chat])
    demo.studio_pool.close()  # the server stops: the run is resumed from its checkpoint on disk
    again = build_app(tmp_path, load_settings(budget=8, steps=8), engine=shapes_engine)
    h = again.studio_handlers
    opened = h.open_run(run_id)
    assert "your turn" in opened[h.ui.status]
    h.vary(run_id, opened[h.ui.q_step], 0.5)  # and the next step works
    end = list(h.follow(run_id))[-1]
    made = RunFolder.read(h.folder.run_dir(run_id)).state.nodes
    assert len(made) == len(before.state.nodes) + 3 and "spent 4 of 8" in end[h.ui.status]
    again.studio_pool.close()
