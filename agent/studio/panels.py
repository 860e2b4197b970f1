"""The page's side panels: the tree (select a node, compare two), the list of runs, the upload and
the settings of an open run. Mixed into :class:`agent.studio.handlers.Handlers`, whose ``view``,
``ui``, ``folder`` and ``pool`` these use."""
from __future__ import annotations

import html

import gradio as gr

from agent.studio.fields import FIELDS, check, value_of
from agent.studio.jobs import message_of
from agent.studio.tree_view import compare_html, node_summary
from agent.run_files import RunFolder
from tools.errors import InputError

# The notes beside controls: a message is about its control's last use, so a new view clears them all.
NOTES = ("runs_note", "upload_note", "settings_note", "msg_note", "answer_note", "strength_note", "vary_note",
         "region_note", "tree_note")


def critic_url(asked: str | None, configured: str | None) -> str | None:
    """The critic server a page may use: the one the studio was started with, or none. The critic
    sends the server's API key (from its environment) to that URL, so a page must not choose it."""
    url = (asked or "").strip() or None
    if url is None or url == (configured or None):
        return url
    raise InputError("the critic server is set when the studio starts (--critic-base-url or sculpt.toml): the "
                     "page may not send the server's API key anywhere else")


def note(text: str | None, ok: bool = False) -> str:
    """A message next to a control (escaped: it may quote what the person typed)."""
    if not text:
        return ""
    return f"<span class='{'ok' if ok else 'err'}'>{html.escape(text)}</span>"


class PanelHandlers:
    def runs_list(self):
        """Every run folder, newest first, for the list."""
        entries = self.folder.runs()
        return gr.update(choices=[(e.label, e.run_id) for e in entries], value=None)

    def select_node(self, run_id: str, evt: gr.EventData):
        node = getattr(evt, "_data", {}).get("node") if evt else None
        try:
            snap = RunFolder.read(self.folder.run_dir(run_id))
        except Exception as exc:
            return {self.ui.tree_note: note(message_of(exc))}
        if node not in snap.nodes:
            return {self.ui.tree_note: note(f"{node!r} is not a node of this run")}
        ids = snap.nodes.imaged()
        other = snap.state.best
        if other in (None, node):  # beside itself says nothing: its parent, else where the run stands
            parent = snap.nodes[node].parent
            other = parent if parent in ids else snap.state.current
        # The whole view, so "Go on from" and every other control say what they can do with it selected.
        return {**self.view(run_id, selected=node, rest=not self.pool.busy(run_id)), self.ui.selected: node,
                self.ui.tree_note: node_summary(snap, node),
                self.ui.cmp_a: gr.update(choices=ids, value=node), self.ui.cmp_b: gr.update(choices=ids, value=other),
                self.ui.compare: compare_html(snap, node, other),
                self.ui.dl_node: gr.update(value=str(self.folder.download(run_id, snap.state.nodes[node].to_state(), node))
                                           if snap.nodes[node].image else None, interactive=bool(snap.nodes[node].image))}

    def compare(self, run_id: str, a: str | None, b: str | None):
        try:
            return compare_html(RunFolder.read(self.folder.run_dir(run_id)), a, b)
        except Exception as exc:
            return note(message_of(exc))

    def upload(self, path, run_id: str | None = None):
        """A picture to start from: checked at once; while a run is open, the person says what it is for
        (a new run from it, or keep editing this run) before anything else uses it."""
        ui = self.ui
        if not path:
            return {ui.upload_note: "", ui.upload_preview: None, ui.upload_ask: gr.update(visible=False)}
        try:
            checked = self.folder.check_upload(path)
        except Exception as exc:
            return {ui.upload_note: note(message_of(exc)), ui.upload_preview: None, ui.upload: None,
                    ui.upload_ask: gr.update(visible=False)}
        if run_id:
            return {ui.upload_note: note("A run is open: start a new run from your image, or keep editing this "
                                         "run's image?", ok=True), ui.upload_preview: str(checked),
                    ui.upload_ask: gr.update(visible=True)}
        return {ui.upload_note: note("your image will be the root of the next run: type the brief to refine it "
                                     "toward", ok=True), ui.upload_preview: str(checked),
                ui.upload_ask: gr.update(visible=False)}

    def upload_new_run(self, path):
        """The upload starts the next run: the open run is put aside (it stays in the list)."""
        return {**self.new_run(), **self.upload(path, None), self.ui.upload: path}

    def upload_set_aside(self, run_id: str):
        return {self.ui.upload: None, self.ui.upload_preview: None, self.ui.upload_ask: gr.update(visible=False),
                self.ui.upload_note: note("your image was set aside; this run goes on", ok=True)}

    def check_fields(self, images, seconds, usd, seed, steps):
        """Every number as the run spec takes it: a message beside each one it refuses, none beside the rest."""
        errors = check(self.defaults, {"budget": images, "max_seconds": seconds, "max_usd": usd, "seed": seed,
                                       "steps": steps})
        return {self.field_notes[n]: note(errors.get(n)) for n in self.field_notes}

    def check_strength(self, run_id: str, strength):
        """The strength as the open question would take it (or as an answer is read, without one)."""
        try:
            answer = {"action": "vary", "strength": strength}
            if strength is None:
                raise InputError("give a strength: more than 0, at most 1")
            if run_id and not self.pool.busy(run_id) and self.pool.question(run_id)[0] is not None:
                self.pool.check_answer(run_id, answer)
            else:
                from agent.answers import read_answer

                read_answer(answer)
        except Exception as exc:
            return note(message_of(exc))
        return ""

    def settings_of(self, run_id: str | None) -> dict:
        """The sidebar shows an opened run's own budget and critic, so Apply changes only what the
        person edits there."""
        if not run_id:
            return {}
        spec = RunFolder.read(self.folder.run_dir(run_id), events=False).spec
        return {self.ui.images: spec.budget.generations, self.ui.critic: spec.critic,
                self.ui.fresh: spec.policy.allow_fresh}

    def apply(self, run_id: str, images, critic: str, url_asked: str):
        """Raise an open run's image budget, or judge it with another critic from here on."""
        images_note = self.field_notes["budget"]
        try:
            if not run_id:
                raise InputError("no run is open; these settings apply to the next run you start")
            refused = check(self.defaults, {"budget": images}).get("budget")
            if refused:
                return {images_note: note(refused), self.ui.settings_note: ""}
            snap = RunFolder.read(self.folder.run_dir(run_id))
            url = critic_url(url_asked, self.defaults.critic_base_url)
            budget = value_of(FIELDS["budget"], images)
            if budget == snap.spec.budget.generations:
                budget = None  # unchanged; a budget the run cannot take is refused by the run itself
            critic_spec = (critic or "").strip() or None
            if critic_spec == snap.spec.critic:
                critic_spec = None
            if budget is None and critic_spec is None and url is None:
                return {self.ui.settings_note: note("nothing to change: edit the images or the critic first")}
            self.pool.reopen(run_id, budget=budget, critic_spec=critic_spec,
                             critic_options={"base_url": url} if url else None)
        except Exception as exc:
            message = message_of(exc)
            where = images_note if "budget" in message or "images" in message else self.ui.settings_note
            return {where: note(message), self.ui.settings_note if where is images_note else images_note: ""}
        return {**self.view(run_id), self.ui.settings_note: note("applied to this run", ok=True), images_note: ""}
