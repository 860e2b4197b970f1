"""The answers a person gives from the page: each checked where the run checks it, then handed to
the run as a job; a refusal is a message next to the control it came from. Mixed into
:class:`agent.studio.handlers.Handlers`, whose ``view``, ``ui`` and ``pool`` these use."""
from __future__ import annotations

import gradio as gr

from agent.studio.jobs import message_of
from agent.studio.panels import note
from agent.studio.regions import region_of
from agent.studio.views import working_line
from tools.errors import InputError


class AnswerHandlers:
    def _answer(self, run_id: str, q_step, answer: dict, where, autopilot: bool = False) -> dict:
        """Check an answer, then hand it to the run; a refusal is a message next to ``where``."""
        ui = self.ui
        try:
            if not run_id:
                raise InputError("no run is open: type a brief first")
            self.pool.refuse_if_busy(run_id)
            if answer["action"] == "continue" and self.pool.question(run_id)[0] is None:
                raise InputError("this run has ended: select an image in the tree and press “Go on from it”, or "
                                 "start a new run")
            self.pool.check_answer(run_id, answer)  # the question's own refusal, before anything is sent
            question, step = self.pool.question(run_id)
            if question is not None and q_step is not None and step != q_step:
                return {**self.view(run_id), where: note("this run moved on (in another tab?); here is where it is now")}
            self.pool.submit(run_id, answer, autopilot=autopilot, where=where)
        except Exception as exc:
            return {where: note(message_of(exc))}
        working = "autopilot: the agent goes on until it stops…" if autopilot else working_line(
            [{"node": "ask_human", "answer": answer}])
        out = {**self.view(run_id, working=working, rest=False), where: "", ui.answer_note: "", ui.strength_note: ""}
        out[ui.msg] = {**out[ui.msg], "value": ""}
        return out

    def answer(self, kind: str):
        def handler(run_id: str, q_step):
            return self._answer(run_id, q_step, {"action": kind}, self.ui.answer_note)
        return handler

    def amend(self, keep: str):
        def handler(run_id: str, q_step):
            return self._answer(run_id, q_step, {"action": "amend", "keep": keep}, self.ui.answer_note)
        return handler

    def autopilot(self, run_id: str, q_step):
        return self._answer(run_id, q_step, {"action": "continue"}, self.ui.answer_note, autopilot=True)

    def halt(self, run_id: str):
        job = self.pool.job(run_id)
        if job and not job.done:
            job.stop()
            return {self.ui.answer_note: note("autopilot stops after the current image", ok=True),
                    self.ui.halt: gr.update(interactive=False)}
        return {self.ui.answer_note: ""}

    def cancel(self, run_id: str):
        """Stop the image being made, within one denoising step; the run waits where it stood."""
        job = self.pool.job(run_id)
        if job and not job.done:
            job.cancel()
            return {self.ui.answer_note: note("cancelling the image…", ok=True),
                    self.ui.cancel: gr.update(interactive=False), self.ui.halt: gr.update(interactive=False)}
        return {self.ui.answer_note: note("no image is being made")}

    def vary(self, run_id: str, q_step, strength):
        if strength is None:
            return {self.ui.strength_note: note("give a strength: more than 0, at most 1")}
        return self._answer(run_id, q_step, {"action": "vary", "strength": strength}, self.ui.strength_note)

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

