"""The studio page: a gr.Blocks layout and its wiring. What each control does is in handlers.py.

Per tab, the open run is the page's ``run_id`` (kept in the URL as ``?run=<id>``, so a reload or a
server restart brings the same run back from its checkpoint). An answer starts a background job;
its event shows that at once, then streams the page until the run rests at its next question.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from agent.policy.config import PolicyConfig
from agent.settings import SculptSettings
from agent.studio.controls import TITLES
from agent.studio.fields import FIELDS, STRENGTH_LABEL
from agent.studio.files import RunsFolder
from agent.studio.handlers import Handlers
from agent.studio.jobs import RunPool
from agent.studio.tree_view import TREE_JS

# Keep the open run in the URL (per tab; survives reloads and restarts).
SET_URL = """(run) => { const u = new URL(window.location.href);
  if (run) { u.searchParams.set('run', run); } else { u.searchParams.delete('run'); }
  window.history.replaceState(null, '', u); }"""
QUIET = {"show_progress": "hidden", "queue": True}


def _number(label: str, value, elem_id: str, **kw):
    """A number and the note under it that says why the spec refused its value (agent/studio/fields.py)."""
    with gr.Column(min_width=90):
        field = gr.Number(label=label, value=value, elem_id=elem_id, **kw)
        note = gr.Markdown(elem_classes=["note"], elem_id=f"{elem_id}-note")
    return field, note


def build_ui(defaults: SculptSettings) -> SimpleNamespace:
    ui = SimpleNamespace()
    ui.run_id = gr.Textbox(visible="hidden", elem_id="run-id")
    ui.why = gr.Textbox(visible="hidden", elem_id="why")  # each control's reason for being disabled
    ui.q_step, ui.var_ids, ui.picked, ui.selected = gr.State(None), gr.State([]), gr.State(None), gr.State(None)
    ui.painting = gr.State(False)  # the region editor is open
    f = FIELDS
    with gr.Sidebar(label="runs and settings", open=True, width=340):
        gr.Markdown("### Runs")
        ui.runs = gr.Dropdown(label="open an earlier run", choices=[], elem_id="runs", interactive=True)
        ui.new = gr.Button("New run", size="sm", elem_id="new-run")
        ui.runs_note = gr.Markdown(elem_classes=["note"], elem_id="runs-note")
        gr.Markdown("### Next run")
        ui.upload = gr.File(label="start from your own image (PNG, JPEG, WebP)", file_types=[".png", ".jpg", ".jpeg",
                                                                                          ".webp"],
                            elem_id="upload")
        ui.upload_note = gr.Markdown(elem_classes=["note"], elem_id="upload-note")
        with gr.Row(visible=False) as ui.upload_ask:  # an upload while a run is open: what is it for?
            ui.up_new = gr.Button("New run from my image", size="sm", elem_id="upload-new")
            ui.up_keep = gr.Button("Keep editing this run", size="sm", elem_id="upload-keep")
        ui.fresh = gr.Checkbox(label="let the agent start over with fresh images (without this, every image "
                                     "descends from your picture)", value=False, elem_id="fresh")
        ui.upload_preview = gr.Image(label="your image", interactive=False, height=140, visible=True,
                                     elem_id="upload-preview", buttons=[])
        with gr.Row():
            ui.images, ui.images_note = _number(f["budget"].label, defaults.budget, "budget", precision=0)
            ui.seconds, ui.seconds_note = _number(f["max_seconds"].label, defaults.max_seconds or 0, "seconds")
        with gr.Row():
            ui.usd, ui.usd_note = _number(f["max_usd"].label, defaults.max_usd or 0, "usd")
            ui.seed, ui.seed_note = _number(f["seed"].label, 0, "seed", precision=0)
        ui.steps, ui.steps_note = _number(f["steps"].label, defaults.steps or 0, "steps", precision=0)
        ui.critic = gr.Textbox(label="critic", value=defaults.critic, elem_id="critic")
        ui.critic_url = gr.Textbox(label="critic server (OpenAI-compatible; key from the environment)",
                                   value=defaults.critic_base_url or "", elem_id="critic-url")
        ui.model = gr.Textbox(label="model", value=defaults.model, elem_id="model")
        ui.apply = gr.Button("Apply images and critic to the open run", size="sm", elem_id="apply")
        ui.settings_note = gr.Markdown(elem_classes=["note"], elem_id="settings-note")
    gr.Markdown("## sculpt studio", elem_id="title")
    ui.status = gr.Markdown(elem_id="status")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            ui.chat = gr.Chatbot(label="the agent at work", height=520, elem_id="chat", buttons=["copy_all"],
                                 feedback_options=None, layout="bubble")
            with gr.Row():
                ui.msg = gr.Textbox(show_label=False, placeholder="Type a brief to start a new run", scale=5,
                                    elem_id="msg", max_lines=3)
                ui.send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
            ui.msg_note = gr.Markdown(elem_classes=["note"], elem_id="msg-note")
            with gr.Row():
                button = {"interactive": False, "min_width": 60, "size": "sm"}
                ui.accept = gr.Button("Accept", variant="primary", elem_id="accept", **button)
                ui.step = gr.Button("One step", elem_id="step", **button)
                ui.auto = gr.Button("Autopilot ▶", elem_id="auto", **{**button, "min_width": 100})
                ui.halt = gr.Button("Stop ■", variant="stop", elem_id="halt", **button)
                ui.cancel = gr.Button("Cancel ✕", variant="stop", elem_id="cancel", **button)
                ui.stop = gr.Button("End run", elem_id="stop", **button)
            with gr.Row(visible=False) as ui.amend_row:  # after an edit lost a requirement: the person's call
                ui.keep_change = gr.Button("Keep my change", variant="primary", elem_id="keep-change")
                ui.keep_brief = gr.Button("Keep the brief", elem_id="keep-brief")
            ui.answer_note = gr.Markdown(elem_classes=["note"], elem_id="answer-note")
        with gr.Column(scale=2):
            ui.image = gr.Image(label="current image", interactive=False, height=300, elem_id="current",
                                buttons=["fullscreen"])
            ui.checklist = gr.HTML(elem_id="checklist")
            with gr.Row():
                ui.dl_current = gr.DownloadButton("Download this image", size="sm", elem_id="dl-current",
                                                  interactive=False)
                ui.dl_best = gr.DownloadButton("Download the answer", size="sm", elem_id="dl-best",
                                               interactive=False)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            with gr.Group():
                with gr.Row():
                    with gr.Column(scale=3):
                        ui.strength = gr.Number(value=PolicyConfig().variation_strength, label=STRENGTH_LABEL,
                                                elem_id="strength", step=0.05)
                        ui.strength_note = gr.Markdown(elem_classes=["note"], elem_id="strength-note")
                    ui.vary = gr.Button("Make variations", scale=1, elem_id="vary", interactive=False)
                ui.gallery = gr.Gallery(label="variations: click one, then pick it", columns=4, height=200,
                                        allow_preview=False, elem_id="variations", visible=False, object_fit="contain")
                ui.pick = gr.Button("Pick", elem_id="pick", interactive=False)
            ui.vary_note = gr.Markdown(elem_classes=["note"], elem_id="vary-note")
        with gr.Column(scale=2), gr.Accordion("Redo a region: paint on the image", open=False,
                                              elem_id="region-tool") as ui.region_tool:
            ui.editor = gr.ImageEditor(label="paint over what to redo", type="numpy", sources=(), transforms=(),
                                       layers=False, brush=gr.Brush(colors=["rgba(255, 0, 170, 0.6)"],
                                                                    color_mode="fixed", default_size=12),
                                       canvas_size=(256, 256), fixed_canvas=True, height=340, elem_id="editor")
            ui.region_box = gr.Textbox(label="or type a box: x0 y0 x1 y1 (fractions of the image)", elem_id="box")
            ui.region_prompt = gr.Textbox(label="what goes there (empty: the agent writes it)", elem_id="region-prompt")
            ui.region = gr.Button("Redo this region", elem_id="region", interactive=False)
            ui.region_note = gr.Markdown(elem_classes=["note"], elem_id="region-note")
    gr.Markdown("### The tree · click an image to select it")
    ui.tree = gr.HTML(js_on_load=TREE_JS, elem_id="tree")
    ui.tree_note = gr.Markdown(elem_id="tree-note")
    with gr.Row():
        ui.branch = gr.Button("Go on from the selected image", elem_id="branch", interactive=False)
        ui.dl_node = gr.DownloadButton("Download the selected image", elem_id="dl-node", interactive=False)
    with gr.Row():
        ui.cmp_a = gr.Dropdown(label="compare", choices=[], elem_id="cmp-a")
        ui.cmp_b = gr.Dropdown(label="with", choices=[], elem_id="cmp-b")
    ui.compare = gr.HTML(elem_id="compare")
    return ui


def build_app(runs_dir: str | Path, defaults: SculptSettings, *, engine=None, previews: bool = True) -> gr.Blocks:
    folder = RunsFolder(runs_dir)
    pool = RunPool(folder, engine=engine, previews=previews)
    with gr.Blocks(title="sculpt studio", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        ui = build_ui(defaults)
        h = Handlers(ui, folder, pool, defaults)
        outs = [ui.run_id, ui.why, ui.q_step, ui.var_ids, ui.picked, ui.selected, ui.runs, ui.runs_note, ui.upload,
                ui.upload_preview, ui.upload_note, ui.upload_ask, ui.fresh, ui.settings_note, ui.status, ui.chat,
                ui.msg, ui.msg_note, ui.accept, ui.step, ui.auto, ui.halt, ui.cancel, ui.stop, ui.amend_row,
                ui.answer_note, ui.image, ui.checklist, ui.dl_current, ui.dl_best, ui.vary, ui.strength_note,
                ui.gallery, ui.pick, ui.vary_note, ui.editor, ui.region_box, ui.region, ui.region_note, ui.tree,
                ui.tree_note, ui.branch, ui.dl_node, ui.cmp_a, ui.cmp_b, ui.compare, ui.painting, ui.images,
                ui.critic, *h.field_notes.values()]
        fields = [ui.images, ui.seconds, ui.usd, ui.seed, ui.steps]
        settings = [ui.upload, ui.fresh, *fields, ui.critic, ui.critic_url, ui.model]
        # Actions that may start the agent: one event each, which answers at once and then streams the
        # page until the run rests (the engine gate, not Gradio's concurrency limit, takes turns).
        acting = {"outputs": outs, "concurrency_limit": None, **QUIET}

        def wire(event, fn, inputs):
            event(h.then_follow(fn), [ui.painting, *inputs], **acting)

        ui.run_id.change(None, [ui.run_id], None, js=SET_URL)
        ui.why.change(None, [ui.why], None, js=TITLES)
        demo.load(h.load, None, **acting)
        for ev in (ui.send.click, ui.msg.submit):
            wire(ev, h.send, [ui.msg, ui.run_id, ui.q_step, *settings])
        for button, kind in ((ui.accept, "accept"), (ui.step, "continue"), (ui.stop, "stop")):
            wire(button.click, h.answer(kind), [ui.run_id, ui.q_step])
        wire(ui.keep_change.click, h.amend("change"), [ui.run_id, ui.q_step])
        wire(ui.keep_brief.click, h.amend("brief"), [ui.run_id, ui.q_step])
        wire(ui.auto.click, h.autopilot, [ui.run_id, ui.q_step])
        ui.halt.click(h.halt, [ui.run_id], outs, **QUIET)
        ui.cancel.click(h.cancel, [ui.run_id], outs, **QUIET)
        wire(ui.vary.click, h.vary, [ui.run_id, ui.q_step, ui.strength])
        ui.gallery.select(h.choose, [ui.var_ids], [ui.picked, ui.pick], **QUIET)
        wire(ui.pick.click, h.pick, [ui.run_id, ui.q_step, ui.picked])
        wire(ui.region.click, h.region, [ui.run_id, ui.q_step, ui.editor, ui.region_box, ui.region_prompt])
        wire(ui.branch.click, h.branch, [ui.run_id, ui.q_step, ui.selected])
        ui.region_tool.expand(h.paint, [ui.run_id], [ui.painting, ui.editor], **QUIET)
        ui.region_tool.expand(None, [ui.why], None, js=TITLES)  # its button's reason, now that it is drawn
        ui.region_tool.collapse(lambda: False, None, ui.painting, **QUIET)
        ui.tree.select(h.select_node, [ui.run_id], outs, **QUIET)
        for dd in (ui.cmp_a, ui.cmp_b):
            dd.input(h.compare, [ui.run_id, ui.cmp_a, ui.cmp_b], ui.compare, **QUIET)
        ui.runs.focus(h.runs_list, None, ui.runs, **QUIET)  # the list is as fresh as the folder when opened
        wire(ui.runs.input, h.open_from_list, [ui.runs])
        ui.new.click(h.new_run, None, outs, **QUIET)
        ui.upload.upload(h.upload, [ui.upload, ui.run_id], outs, **QUIET)
        ui.upload.clear(h.upload, [ui.upload, ui.run_id], outs, **QUIET)
        ui.up_new.click(h.upload_new_run, [ui.upload], outs, **QUIET)
        ui.up_keep.click(h.upload_set_aside, [ui.run_id], outs, **QUIET)
        for field in fields:  # each number checked as it is left, by the spec (fields.py)
            field.blur(h.check_fields, fields, list(h.field_notes.values()), **QUIET)
        ui.strength.blur(h.check_strength, [ui.run_id, ui.strength], ui.strength_note, **QUIET)
        ui.apply.click(h.apply, [ui.run_id, ui.images, ui.critic, ui.critic_url], outs, **QUIET)
    demo.studio_pool, demo.studio_handlers = pool, h  # for the server's shutdown, and tests
    return demo
