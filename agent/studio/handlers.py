"""What the page's controls do. Each handler turns the page's inputs into a call on the run lifecycle
(through :mod:`agent.studio.jobs`) and returns what the page should show, as ``{component: value}``.

Bad input never reaches a run: numbers are checked by the run spec (fields.py), answers by the
run's own question (agent/answers.py and agent/policy/answers.py, asked in advance), and a refusal
is a message next to its control; sculpt's own errors (a brief the critic cannot read, an
unreachable critic, a corrupt upload) become messages too, never a traceback or an "Error" page.
"""
from __future__ import annotations

import time

import gradio as gr

from agent.policy import person
from agent.settings import SculptSettings
from agent.studio import controls
from agent.studio.fields import check, spec_of
from agent.studio.files import RunsFolder
from agent.studio.answering import AnswerHandlers
from agent.studio.jobs import RunPool, message_of
from agent.studio.panels import NOTES, PanelHandlers, note
from agent.studio.panels import critic_url as checked_critic_url
from agent.studio.tree_view import tree_html
from agent.studio.views import chat, checklist_html, status_line, words_of, working_line
from agent.run_files import RunFolder
from tools.errors import InputError

FOLLOW_EVERY = 0.2  # seconds between page updates while the agent works


class Handlers(PanelHandlers, AnswerHandlers):
    """The page's behaviour; ``ui`` is the namespace of components app.py made."""

    def __init__(self, ui, folder: RunsFolder, pool: RunPool, defaults: SculptSettings):
        self.ui, self.folder, self.pool, self.defaults = ui, folder, pool, defaults
        self.field_notes = {"budget": ui.images_note, "max_seconds": ui.seconds_note, "max_usd": ui.usd_note,
                            "seed": ui.seed_note, "steps": ui.steps_note}

    # -- the view --------------------------------------------------------------------------------
    def view(self, run_id: str | None, *, working: str | None = None, rest: bool = True,
             painting: bool = False, selected: str | None = None) -> dict:
        """Everything a run shows; ``rest`` when it waits (or ended): the question and its controls.
        The region editor gets the image only while it is open (``painting``): loading a canvas is
        the most expensive thing the page does."""
        ui = self.ui
        if not run_id:
            return {ui.run_id: "", ui.q_step: None, ui.chat: [], ui.tree: tree_html(None), ui.image: None,
                    ui.checklist: "", ui.gallery: gr.update(value=[], visible=False), ui.var_ids: [],
                    ui.status: "Type a brief below to start, or open a run.", ui.editor: None, ui.selected: None,
                    **self._controls(controls.Stand()), **{n: "" for n in self._notes()}}
        snap = RunFolder.read(self.folder.run_dir(run_id))
        job = self.pool.job(run_id)
        busy = bool(job and not job.done)
        if busy and rest:  # a reloaded page, while the agent works: it follows the job
            rest, working = False, working or "the agent is working…"
        question, step = self.pool.question(run_id) if rest else (None, None)
        if question:
            current = question["node"]
        else:  # the newest image while working; else where the run stands
            made = [i for i in snap.nodes.imaged()]
            current = made[-1] if working and made else snap.state.current or snap.state.best
        img = snap.nodes[current].image if current and current in snap.nodes else None
        shown = snap.image(img)
        if busy and job.preview:  # the image being made, as it denoises
            shown, at, total = job.preview
            working = f"{working} (step {at} of {total})"
        out = {ui.run_id: run_id, ui.chat: chat(snap, working), ui.status: status_line(snap, question, working),
               ui.tree: tree_html(snap, current, selected), ui.image: shown,
               ui.checklist: checklist_html(snap, current, question["verdicts"] if question else None)}
        stand = controls.Stand(has_run=True, busy=not rest, autopilot=bool(job and job.autopilot and
                                                                           not job.stop_requested),
                               question=question, selected=selected,
                               status=words_of(snap).status(snap.state.status))
        out.update(self._controls(stand))
        if rest:
            variations = (question or {}).get("variations") or []
            q = question or {}
            said = q.get("error") or None
            out.update({ui.q_step: step, ui.var_ids: [v["node"] for v in variations],
                        ui.gallery: gr.update(value=[(snap.image(v["image"]), f"{v['node']} · {v['score']:.2f}")
                                                     for v in variations], visible=bool(variations)),
                        ui.answer_note: note(said) if said else note(
                            (q.get("amend") or {}).get("detail") or ("the image was cancelled; nothing was added "
                                                                     "to the tree" if q.get("cancelled") else None),
                            ok=True),
                        **self._downloads(snap, run_id, current)})
            if painting:
                out.update(self._editor(snap, img))
        return out

    def _notes(self) -> list:
        return [getattr(self.ui, n) for n in NOTES] + list(self.field_notes.values())

    def _controls(self, s: controls.Stand) -> dict:
        ui = self.ui
        why = controls.reasons(s)
        out = {getattr(ui, k): gr.update(interactive=not why[k]) for k in why}
        out[ui.pick] = gr.update(value="Pick", interactive=False)
        out[ui.why] = controls.as_json(why)
        out[ui.amend_row] = gr.update(visible=bool((s.question or {}).get("amend")))
        out[ui.region_note] = "" if not why["region"] or s.busy else f"<span class='muted'>{why['region']}</span>"
        out[ui.msg] = gr.update(placeholder="Feedback for the agent (a rewrite hint), or a new brief after the run "
                                "ends" if s.question else "Type a brief to start a new run")
        if s.has_run:
            out[ui.branch] = gr.update(interactive=not why["branch"],
                                       value=f"Go on from {s.selected}" if s.selected else "Go on from the selected image")
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

    def _downloads(self, snap: RunFolder, run_id: str, current: str | None) -> dict:
        out = {}
        answer = person.answer(snap.state.model_dump())  # the person's pick, unless they accepted another
        for button, node_id in ((self.ui.dl_current, current), (self.ui.dl_best, answer)):
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
        """A run from the list or the URL (or none): old notes go, the run's own settings show."""
        try:
            if run_id:
                self.folder.run_dir(run_id)
            return {**self.view(run_id or None), **{n: "" for n in self._notes()}, **self.settings_of(run_id),
                    self.ui.runs: self.runs_list()}
        except Exception as exc:
            return {**self.view(None), self.ui.runs_note: note(message_of(exc))}

    def open_from_list(self, run_id: str | None):
        """A run chosen from the list; closing the list without a choice changes nothing."""
        return self.open_run(run_id) if run_id else {self.ui.runs_note: ""}

    def new_run(self):
        return {**self.view(None), self.ui.msg: gr.update(value="", placeholder="Type a brief to start a new run"),
                self.ui.runs: self.runs_list()}

    def send(self, text: str, run_id: str, q_step, upload, fresh, images, seconds, usd, seed, steps, critic,
             critic_url, model):
        """A brief starts a run (when none waits for an answer); otherwise the text is feedback."""
        ui = self.ui
        values = {"budget": images, "max_seconds": seconds, "max_usd": usd, "seed": seed, "steps": steps}
        try:
            question = self.pool.question(run_id)[0] if run_id else None
            if upload and run_id:  # the upload's question first: the text must not go where it was not meant
                raise InputError("first say what your image is for: a new run from it, or keep editing this run")
            if question is not None or (run_id and self.pool.busy(run_id)):
                return self._answer(run_id, q_step, {"action": "feedback", "text": text or ""}, ui.msg_note)
            errors = check(self.defaults, values)
            if errors:
                return {ui.msg_note: note("fix the settings marked in the sidebar first"),
                        **{self.field_notes[n]: note(errors.get(n)) for n in self.field_notes}}
            start = str(self.folder.check_upload(upload)) if upload else None
            defaults = self.defaults.model_copy(update={
                "critic": (critic or "").strip() or self.defaults.critic, "model": (model or "").strip() or
                self.defaults.model, "critic_base_url": checked_critic_url(critic_url, self.defaults.critic_base_url)})
            spec = spec_of(defaults, values, text or "", start_image=start, allow_fresh=bool(fresh and start))
            new_id = self.pool.start(spec)
            self.pool.submit(new_id, None, where=ui.msg_note).brief = text
        except Exception as exc:
            return {ui.msg_note: note(message_of(exc))}
        # The brief stays in the box until the critic has read it: a refused brief is not lost.
        return {**self.view(new_id, working="planning the brief…", rest=False), ui.msg_note: "",
                ui.upload: None, ui.upload_preview: None, ui.upload_note: "",
                **{n: "" for n in self.field_notes.values()}}

    # -- following a job -------------------------------------------------------------------------
    def follow(self, run_id: str, painting: bool = False):
        """Stream the page while the agent works: each event and preview as it comes, then the question."""
        job = self.pool.job(run_id) if run_id else None
        if job is None or (job.done and job.shown):
            return  # nothing running: the page shows where the run stands
        seen, line, sent, next_at = -1, None, {}, 0.0
        while True:
            if job.wait_done(next_at - time.monotonic()):  # at most one update per FOLLOW_EVERY
                break
            changes, done = job.follow(max(seen, 0), timeout=1.0)  # wakes on the next event or preview
            if done:
                break
            ahead = job.waiting_for_engine
            was, line = line, (f"waiting for the engine: {ahead} job(s) ahead" if ahead else working_line(job.events))
            if job.autopilot and job.stop_requested and not job.cancelled:
                line += " (autopilot stops after this image)"
            if changes == seen and line == was:
                continue
            seen, next_at = changes, time.monotonic() + FOLLOW_EVERY
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
            if job.brief is not None:  # the brief was read: the box is free for what comes next
                out[self.ui.msg] = {**out[self.ui.msg], "value": ""}
        except InputError:  # the run folder is gone: a brief that could not be planned leaves none
            out = self.view(None)
            out[self.ui.msg] = {**out[self.ui.msg], "value": job.brief or ""}  # the refused brief stays, to fix
        if job.error:
            out[job.where or self.ui.answer_note] = note(job.error)
        out[self.ui.runs] = self.runs_list()
        job.shown = True
        yield out
