"""The page's side panels: the tree (select a node, compare two), the list of runs, the upload and
the settings of an open run. Mixed into :class:`agent.studio.handlers.Handlers`, whose ``view``,
``ui``, ``folder`` and ``pool`` these use."""
from __future__ import annotations

import html

import gradio as gr

from agent.studio.jobs import message_of
from agent.studio.tree_view import compare_html, node_summary, tree_html
from agent.run_files import RunFolder
from tools.errors import InputError


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
        return {self.ui.selected: node, self.ui.tree_note: node_summary(snap, node),
                self.ui.tree: tree_html(snap, snap.state.current, node),
                self.ui.cmp_a: gr.update(choices=ids, value=node), self.ui.cmp_b: gr.update(choices=ids, value=other),
                self.ui.compare: compare_html(snap, node, other), self.ui.branch: gr.update(value=f"Go on from {node}"),
                self.ui.dl_node: gr.update(value=str(self.folder.download(run_id, snap.state.nodes[node].to_state(), node))
                                           if snap.nodes[node].image else None)}

    def compare(self, run_id: str, a: str | None, b: str | None):
        try:
            return compare_html(RunFolder.read(self.folder.run_dir(run_id)), a, b)
        except Exception as exc:
            return note(message_of(exc))

    def upload(self, path):
        if not path:
            return {self.ui.upload_note: "", self.ui.upload_preview: None}
        try:
            checked = self.folder.check_upload(path)
        except Exception as exc:
            return {self.ui.upload_note: note(message_of(exc)), self.ui.upload_preview: None, self.ui.upload: None}
        return {self.ui.upload_note: note("your image will be the root of the next run: type the brief to refine "
                                          "it toward", ok=True), self.ui.upload_preview: str(checked)}

    def settings_of(self, run_id: str | None) -> dict:
        """The sidebar shows an opened run's own budget and critic, so Apply changes only what the
        person edits there."""
        if not run_id:
            return {}
        spec = RunFolder.read(self.folder.run_dir(run_id), events=False).spec
        return {self.ui.images: spec.budget.generations, self.ui.critic: spec.critic}

    def apply(self, run_id: str, images, critic: str, url_asked: str):
        """Raise an open run's image budget, or judge it with another critic from here on."""
        try:
            if not run_id:
                raise InputError("no run is open; these settings apply to the next run you start")
            snap = RunFolder.read(self.folder.run_dir(run_id))
            url = critic_url(url_asked, self.defaults.critic_base_url)
            budget = int(images) if images else None
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
            return {self.ui.settings_note: note(message_of(exc))}
        return {**self.view(run_id), self.ui.settings_note: note("applied to this run", ok=True)}
