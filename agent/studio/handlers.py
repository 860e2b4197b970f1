"""What the page's controls do. Each handler turns the page's inputs into a call on the run lifecycle
(through :mod:`agent.studio.jobs`) and returns what the page should show, as ``{component: value}``.

Bad input never reaches a run: answers are checked with agent/answers.py first and a refused one
comes back as a message next to its control; sculpt's own errors (a brief the critic cannot read, an
unreachable critic, a corrupt upload) become messages too, never a traceback.
"""
from __future__ import annotations

import time

import gradio as gr

from agent.answers import read_answer
from agent.settings import SculptSettings, run_spec
from agent.studio.files import RunsFolder
from agent.studio.jobs import RunPool, message_of
from agent.studio.panels import PanelHandlers, note
from agent.studio.panels import critic_url as checked_critic_url
from agent.studio.regions import region_of
from agent.studio.tree_view import tree_html
from agent.run_files import RunFolder
from agent.studio.views import chat, checklist_html, status_line, working_line
from tools.errors import InputError

FOLLOW_EVERY = 0.2  # seconds between page updates while the agent works


class Handlers(PanelHandlers):
    """The page's behaviour; ``ui`` is the namespace of components app.py made."""

    def __init__(self, ui, folder: RunsFolder, pool: RunPool, defaults: SculptSettings):
        self.ui, self.folder, self.pool, self.defaults = ui, folder, pool, defaults

    # -- the view --------------------------------------------------------------------------------
    def view(self, run_id: str | None, *, working: str | None = None, rest: bool = True,
             painting: bool = False) -> dict:
        """Everything a run shows; ``rest`` when it waits (or ended): the question and its controls.
        The region editor gets the image only while it is open (``painting``): loading a canvas is
        the most expensive thing the page does."""
        ui = self.ui
        if not run_id:
            return {ui.run_id: "", ui.q_step: None, ui.chat: [], ui.tree: tree_html(None), ui.image: None,
                    ui.checklist: "", ui.gallery: gr.update(value=[], visible=False), ui.var_ids: [],
                    ui.status: "Type a brief below to start, or open a run.", ui.editor: None,
                    **self._controls(False, False)}
        snap = RunFolder.read(self.folder.run_dir(run_id))
        job = self.pool.job(run_id)
        busy = bool(rest and job and not job.done)
        if busy:  # a reloaded page, while the agent works: it follows the job
            rest, working = False, working or "the agent is working…"
        question, step = self.pool.question(run_id) if rest else (None, None)
        if question:
            current = question["node"]
        else:  # the newest image while working; else where the run stands
            made = [i for i in snap.nodes.imaged()]
            current = made[-1] if working and made else snap.state.current or snap.state.best
        img = snap.nodes[current].image if current and current in snap.nodes else None
        out = {ui.run_id: run_id, ui.chat: chat(snap, working), ui.status: status_line(snap, question, working),
               ui.tree: tree_html(snap, current), ui.image: snap.image(img),
               ui.checklist: checklist_html(snap, current, question["verdicts"] if question else None)}
        if busy:
            out[ui.halt] = gr.update(interactive=job.autopilot and not job.stop_requested)
        if rest:
            variations = (question or {}).get("variations") or []
            out.update({ui.q_step: step, ui.var_ids: [v["node"] for v in variations],
                        ui.gallery: gr.update(value=[(snap.image(v["image"]), f"{v['node']} · {v['score']:.2f}")
                                                     for v in variations], visible=bool(variations)),
                        ui.answer_note: note((question or {}).get("error")),
                        **self._downloads(snap, run_id, current), **self._controls(bool(question), True)})
            if painting:
                out.update(self._editor(snap, img))
        return out

    def _editor(self, snap: RunFolder | None, img: str | None) -> dict:
        value = {"background": snap.image(img), "layers": [], "composite": snap.image(img)} if snap and img else None
        return {self.ui.editor: value}

    def paint(self, run_id: str):
        """The region editor opened: put the current image on it."""
        try:
            snap = RunFolder.read(self.folder.run_dir(run_id))
        except InputError:
            return {self.ui.painting: True, self.ui.editor: None}
        question = self.pool.question(run_id)[0]
        node = (question or {}).get("node") or snap.state.current
        img = snap.nodes[node].image if node and node in snap.nodes else None
        return {self.ui.painting: True, **self._editor(snap, img)}

    def _controls(self, asking: bool, has_run: bool) -> dict:
        ui = self.ui
        out = {b: gr.update(interactive=asking) for b in (ui.accept, ui.stop, ui.vary, ui.region)}
        out.update({b: gr.update(interactive=has_run) for b in (ui.step, ui.auto)})  # continue re-enters ended runs
        out[ui.pick] = gr.update(value="Pick", interactive=False)
        out[ui.halt] = gr.update(interactive=False)
        out[ui.msg] = gr.update(placeholder="Feedback for the agent (a rewrite hint), or a new brief after the run "
                                "ends" if asking else "Type a brief to start a new run")
        return out

    def _downloads(self, snap: RunFolder, run_id: str, current: str | None) -> dict:
        out = {}
        for button, node_id in ((self.ui.dl_current, current), (self.ui.dl_best, snap.state.best)):
            node = snap.state.nodes.get(node_id or "")
            path = self.folder.download(run_id, node.to_state(), node_id) if node and node.image else None
            out[button] = gr.update(value=str(path) if path else None, interactive=bool(path))
        return out

    # -- opening and starting --------------------------------------------------------------------
    def load(self, request: gr.Request):
        """A page (re)loaded: the run its URL names, followed if the agent is working on it."""
        run_id = (request.query_params.get("run") or "") if request else ""
        yield from self.then_follow(self.open_run)(False, run_id)

    def then_follow(self, fn):
        """``fn``'s answer at once, then the page follows the job it started (if it started one)."""
        def handler(painting, *args):
            out = fn(*args)
            yield out
            if out.get(self.ui.run_id):
                yield from self.follow(out[self.ui.run_id], painting)
        return handler

    def open_run(self, run_id: str | None):
        try:
            if run_id:
                self.folder.run_dir(run_id)
            return {**self.view(run_id or None), **self.settings_of(run_id), self.ui.runs_note: ""}
        except Exception as exc:
            return {**self.view(None), self.ui.runs_note: note(message_of(exc))}

    def new_run(self):
        return {**self.view(None), self.ui.msg: gr.update(value="", placeholder="Type a brief to start a new run")}

    def send(self, text: str, run_id: str, q_step, upload, images, seconds, usd, critic, critic_url, model, seed,
             steps):
        """A brief starts a run (when none waits for an answer); otherwise the text is feedback."""
        ui = self.ui
        try:
            question = self.pool.question(run_id)[0] if run_id else None
            if question is not None or (run_id and self.pool.busy(run_id)):
                return self._answer(run_id, q_step, {"action": "feedback", "text": text or ""}, ui.msg_note)
            start = str(self.folder.check_upload(upload)) if upload else None
            s = self.defaults.model_copy(update={k: v for k, v in {
                "budget": int(images) if images else None, "max_seconds": float(seconds) if seconds else None,
                "max_usd": float(usd) if usd else None, "critic": (critic or "").strip() or None,
                "critic_base_url": checked_critic_url(critic_url, self.defaults.critic_base_url),
                "model": (model or "").strip() or None,
                "steps": int(steps) if steps else None}.items() if v is not None})
            spec = run_spec(s, text or "", seed=int(seed or 0), mode="chat", start_image=start)
            new_id = self.pool.start(spec)
            self.pool.submit(new_id, None, where=ui.msg_note)
        except Exception as exc:
            return {ui.msg_note: note(message_of(exc))}
        return {**self.view(new_id, working="planning the brief…", rest=False), ui.msg: "", ui.msg_note: "",
                ui.upload: None, ui.upload_preview: None, ui.upload_note: ""}

    # -- answers ---------------------------------------------------------------------------------
    def _answer(self, run_id: str, q_step, answer: dict, where, autopilot: bool = False) -> dict:
        """Check an answer, then hand it to the run; a refusal is a message next to ``where``."""
        ui = self.ui
        try:
            if not run_id:
                raise InputError("no run is open: type a brief first")
            try:
                read_answer(answer)
            except ValueError as exc:  # agent/answers.py says what a valid answer looks like
                raise InputError(str(exc)) from None
            self.pool.refuse_if_busy(run_id)
            self.pool.check_answer(run_id, answer)
            question, step = self.pool.question(run_id)
            if question is not None and q_step is not None and step != q_step:
                return {**self.view(run_id), where: note("this run moved on (in another tab?); here is where it is now")}
            self.pool.submit(run_id, answer, autopilot=autopilot, where=where)
        except Exception as exc:
            return {where: note(message_of(exc))}
        working = "autopilot: the agent goes on until it stops…" if autopilot else working_line(
            [{"node": "ask_human", "answer": answer}])
        return {**self.view(run_id, working=working, rest=False), where: "", ui.msg: "",
                ui.halt: gr.update(interactive=autopilot), **{b: gr.update(interactive=False) for b in (
                    ui.accept, ui.step, ui.auto, ui.stop, ui.vary, ui.pick, ui.region)}}

    def answer(self, kind: str):
        def handler(run_id: str, q_step):
            return self._answer(run_id, q_step, {"action": kind}, self.ui.answer_note)
        return handler

    def autopilot(self, run_id: str, q_step):
        return self._answer(run_id, q_step, {"action": "continue"}, self.ui.answer_note, autopilot=True)

    def halt(self, run_id: str):
        job = self.pool.job(run_id)
        if job and not job.done:
            job.stop()
            return {self.ui.answer_note: note("autopilot stops after the current image", ok=True)}
        return {self.ui.answer_note: ""}

    def vary(self, run_id: str, q_step, strength):
        return self._answer(run_id, q_step, {"action": "vary", "strength": strength}, self.ui.vary_note)

    def choose(self, var_ids: list[str], evt: gr.SelectData):
        node = var_ids[evt.index] if var_ids and evt.index is not None and evt.index < len(var_ids) else None
        return {self.ui.picked: node, self.ui.pick: gr.update(value=f"Pick {node}" if node else "Pick", interactive=bool(node))}

    def pick(self, run_id: str, q_step, picked: str | None):
        if not picked:
            return {self.ui.vary_note: note("click one of the variations first")}
        return self._answer(run_id, q_step, {"action": "pick", "node": picked}, self.ui.vary_note)

    def region(self, run_id: str, q_step, editor, box: str, prompt: str):
        try:
            box_value = region_of(editor, box)
        except InputError as exc:
            return {self.ui.region_note: note(str(exc))}
        answer = {"action": "region", "region": box_value, "prompt": (prompt or "").strip() or None}
        return self._answer(run_id, q_step, answer, self.ui.region_note)

    def branch(self, run_id: str, q_step, selected: str | None):
        if not selected:
            return {self.ui.tree_note: note("click an image of the tree first")}
        return self._answer(run_id, q_step, {"action": "branch", "node": selected}, self.ui.tree_note)

    # -- following a job -------------------------------------------------------------------------
    def follow(self, run_id: str, painting: bool = False):
        """Stream the page while the agent works: each event as it is written, then the question."""
        job = self.pool.job(run_id) if run_id else None
        if job is None or (job.done and job.shown):
            return  # nothing running: the page shows where the run stands
        seen, line, sent, next_at = -1, None, {}, 0.0
        while True:
            if job.wait_done(next_at - time.monotonic()):  # at most one update per FOLLOW_EVERY
                break
            _, done = job.follow(max(seen, 0), timeout=1.0)  # wakes on the next event
            if done:
                break
            ahead = job.waiting_for_engine
            was, line = line, (f"waiting for the engine: {ahead} job(s) ahead" if ahead else working_line(job.events))
            if job.autopilot and job.stop_requested:
                line += " (autopilot stops after this image)"
            if len(job.events) == seen and line == was:
                continue
            seen, next_at = len(job.events), time.monotonic() + FOLLOW_EVERY
            try:
                view = self.view(run_id, working=line, rest=False)
            except InputError:  # not there (yet, or any more): the final view says why
                continue
            changed = {k: v for k, v in view.items() if sent.get(k) != v}  # only what changed goes out
            sent.update(changed)
            if changed:
                yield changed
        try:
            out = self.view(run_id, painting=painting)
        except InputError:  # the run folder is gone: a brief that could not be planned leaves none
            out = self.view(None)
        if job.error:
            out[job.where or self.ui.answer_note] = note(job.error)
        job.shown = True
        yield out
