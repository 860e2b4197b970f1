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
from agent.studio.files import RunsFolder
from agent.studio.handlers import Handlers
from agent.studio.jobs import RunPool
from agent.studio.tree_view import TREE_JS

# Keep the open run in the URL (per tab; survives reloads and restarts).
SET_URL = """(run) => { const u = new URL(window.location.href);
  if (run) { u.searchParams.set('run', run); } else { u.searchParams.delete('run'); }
  window.history.replaceState(null, '', u); }"""
QUIET = {"show_progress": "hidden", "queue": True}


def build_ui(defaults: SculptSettings) -> SimpleNamespace:
    ui = SimpleNamespace()
    ui.run_id = gr.Textbox(visible="hidden", elem_id="run-id")
    ui.q_step, ui.var_ids, ui.picked, ui.selected = gr.State(None), gr.State([]), gr.State(None), gr.State(None)
    ui.painting = gr.State(False)  # the region editor is open
    with gr.Sidebar(label="runs and settings", open=True, width=330):
        gr.Markdown("### Runs")
        ui.runs = gr.Dropdown(label="open an earlier run", choices=[], elem_id="runs", interactive=True)
        with gr.Row():
            ui.refresh = gr.Button("Refresh list", size="sm")
            ui.new = gr.Button("New run", size="sm", elem_id="new-run")
        ui.runs_note = gr.Markdown(elem_classes=["note"])
        gr.Markdown("### Next run")
        ui.upload = gr.File(label="start from your own image (PNG, JPEG, WebP)", file_types=[".png", ".jpg", ".jpeg",
                                                                                          ".webp"],
                            elem_id="upload")
        ui.upload_note = gr.Markdown(elem_classes=["note"], elem_id="upload-note")
        ui.upload_preview = gr.Image(label="your image", interactive=False, height=140, visible=True,
                                     elem_id="upload-preview", buttons=[])
        with gr.Row():
            ui.images = gr.Number(label="images", value=defaults.budget, precision=0, minimum=1, elem_id="budget")
            ui.seconds = gr.Number(label="seconds (0: none)", value=defaults.max_seconds, minimum=0)
            ui.usd = gr.Number(label="dollars (0: none)", value=defaults.max_usd, minimum=0)
        ui.critic = gr.Textbox(label="critic", value=defaults.critic, elem_id="critic")
        ui.critic_url = gr.Textbox(label="critic server (OpenAI-compatible; key from the environment)",
                                   value=defaults.critic_base_url or "", elem_id="critic-url")
        ui.model = gr.Textbox(label="model", value=defaults.model, elem_id="model")
        with gr.Row():
            ui.seed = gr.Number(label="seed", value=0, precision=0, minimum=0, elem_id="seed")
            # 0 stands for "the model's own" (the shapes model's 20, Flux schnell's 4, ...), as 0 seconds
            # stands for "no limit": a blank field would reach Gradio as 0 and fail a minimum of 1.
            ui.steps = gr.Number(label="steps (0: the model's own)", value=defaults.steps or 0, precision=0,
                                 minimum=0, elem_id="steps")
        ui.apply = gr.Button("Apply images and critic to the open run", size="sm")
        ui.settings_note = gr.Markdown(elem_classes=["note"])
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
                ui.accept = gr.Button("Accept", variant="primary", elem_id="accept", interactive=False, min_width=90, size="md")
                ui.step = gr.Button("One step", elem_id="step", interactive=False, min_width=90, size="md")
                ui.auto = gr.Button("Autopilot ▶", elem_id="auto", interactive=False, min_width=90, size="md")
                ui.halt = gr.Button("Stop ■", variant="stop", elem_id="halt", interactive=False, min_width=90, size="md")
                ui.stop = gr.Button("End run", elem_id="stop", interactive=False, min_width=90, size="md")
            ui.answer_note = gr.Markdown(elem_classes=["note"], elem_id="answer-note")
        with gr.Column(scale=2):
            ui.image = gr.Image(label="current image", interactive=False, height=300, elem_id="current",
                                buttons=["fullscreen"])
            ui.checklist = gr.HTML(elem_id="checklist")
            with gr.Row():
                ui.dl_current = gr.DownloadButton("Download this image", size="sm", elem_id="dl-current",
                                                  interactive=False)
                ui.dl_best = gr.DownloadButton("Download the best image", size="sm", elem_id="dl-best",
                                               interactive=False)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            with gr.Group():
                with gr.Row():
                    ui.strength = gr.Slider(0.05, 1.0, value=PolicyConfig().variation_strength, step=0.05, label="variation strength",
                                            elem_id="strength", scale=3)
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
        ui.branch = gr.Button("Go on from the selected image", elem_id="branch")
        ui.dl_node = gr.DownloadButton("Download the selected image", elem_id="dl-node")
    with gr.Row():
        ui.cmp_a = gr.Dropdown(label="compare", choices=[], elem_id="cmp-a")
        ui.cmp_b = gr.Dropdown(label="with", choices=[], elem_id="cmp-b")
    ui.compare = gr.HTML(elem_id="compare")
    return ui


def build_app(runs_dir: str | Path, defaults: SculptSettings, *, engine=None) -> gr.Blocks:
    folder = RunsFolder(runs_dir)
    pool = RunPool(folder, engine=engine)
    with gr.Blocks(title="sculpt studio", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        ui = build_ui(defaults)
        h = Handlers(ui, folder, pool, defaults)
        outs = [ui.run_id, ui.q_step, ui.var_ids, ui.picked, ui.selected, ui.runs_note, ui.upload,
                ui.upload_preview, ui.upload_note, ui.settings_note, ui.status, ui.chat, ui.msg, ui.msg_note,
                ui.accept, ui.step, ui.auto, ui.halt, ui.stop, ui.answer_note, ui.image, ui.checklist,
                ui.dl_current, ui.dl_best, ui.vary, ui.gallery, ui.pick, ui.vary_note, ui.editor, ui.region_box,
                ui.region, ui.region_note, ui.tree, ui.tree_note, ui.branch, ui.dl_node, ui.cmp_a, ui.cmp_b,
                ui.compare, ui.painting, ui.images, ui.critic]
        settings = [ui.upload, ui.images, ui.seconds, ui.usd, ui.critic, ui.critic_url, ui.model, ui.seed, ui.steps]
        # Actions that may start the agent: one event each, which answers at once and then streams the
        # page until the run rests (the engine gate, not Gradio's concurrency limit, takes turns).
        acting = {"outputs": outs, "concurrency_limit": None, **QUIET}

        def wire(event, fn, inputs):
            event(h.then_follow(fn), [ui.painting, *inputs], **acting)

        ui.run_id.change(None, [ui.run_id], None, js=SET_URL)
        demo.load(h.load, None, **acting).then(h.runs_list, None, ui.runs, **QUIET)
        for ev in (ui.send.click, ui.msg.submit):
            wire(ev, h.send, [ui.msg, ui.run_id, ui.q_step, *settings])
        for button, kind in ((ui.accept, "accept"), (ui.step, "continue"), (ui.stop, "stop")):
            wire(button.click, h.answer(kind), [ui.run_id, ui.q_step])
        wire(ui.auto.click, h.autopilot, [ui.run_id, ui.q_step])
        ui.halt.click(h.halt, [ui.run_id], outs, **QUIET)
        wire(ui.vary.click, h.vary, [ui.run_id, ui.q_step, ui.strength])
        ui.gallery.select(h.choose, [ui.var_ids], [ui.picked, ui.pick], **QUIET)
        wire(ui.pick.click, h.pick, [ui.run_id, ui.q_step, ui.picked])
        wire(ui.region.click, h.region, [ui.run_id, ui.q_step, ui.editor, ui.region_box, ui.region_prompt])
        wire(ui.branch.click, h.branch, [ui.run_id, ui.q_step, ui.selected])
        ui.region_tool.expand(h.paint, [ui.run_id], [ui.painting, ui.editor], **QUIET)
        ui.region_tool.collapse(lambda: False, None, ui.painting, **QUIET)
        ui.tree.select(h.select_node, [ui.run_id], outs, **QUIET)
        for dd in (ui.cmp_a, ui.cmp_b):
            dd.input(h.compare, [ui.run_id, ui.cmp_a, ui.cmp_b], ui.compare, **QUIET)
        ui.refresh.click(h.runs_list, None, ui.runs, **QUIET)
        wire(ui.runs.input, h.open_run, [ui.runs])
        ui.new.click(h.new_run, None, outs, **QUIET)
        ui.upload.upload(h.upload, [ui.upload], outs, **QUIET)
        ui.upload.clear(h.upload, [ui.upload], outs, **QUIET)
        ui.apply.click(h.apply, [ui.run_id, ui.images, ui.critic, ui.critic_url], outs, **QUIET)
    demo.studio_pool, demo.studio_handlers = pool, h  # for the server's shutdown, and tests
    return demo
