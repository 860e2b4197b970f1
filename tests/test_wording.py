"""agent/wording.py: what a person reads says the requirements' words and plain English, never ids."""
from __future__ import annotations

import re

from agent.events import (AskHumanEvent, CritiqueEvent, DecideEvent, FinishEvent, GenerateEvent, PlanEvent,
                          SelectEvent)
from agent.wording import Words
from tests.policy_states import CHECKLIST

IDS = re.compile(r"\bg\d\.\w+|\btabu\b|no-progress|\btxt2img\b|\bimg2img\b|Error\b")


def words() -> Words:
    return Words.of(CHECKLIST)


def test_verdicts_and_reasons_speak_in_the_requirements_words():
    w = words()
    line = w.event(CritiqueEvent(event_id="1", node_id="n2", score=0.5, failed=["g0.object", "g0.left_of.g1"]))
    assert line == "n2: score 0.50 · ✗ a red circle · the red circle is left of the blue square"
    drift = w.event(SelectEvent(event_id="2", outcome="drift", node_id="n6", reason="lost g1.object, g0.left_of.g1 "
                                                                                    "that held at n2"))
    assert drift == ("n6 it broke what held — it lost “a blue square”, “the red circle is left of the blue square”, "
                     "which held at n2")
    assert w.reason("global failure (background): rewrite the prompt and rebuild at strength 0.8") == \
        "“yellow background” fails across the image: rewrite the prompt and rebuild at strength 0.8"
    assert w.reason("local failure (g0.object) confined to 1 region(s) covering 12%") == \
        "“a red circle” fails in one place (12% of the image): repaint it"
    assert w.reason("no inpaint for g1: its regions cover 60% of the image") == \
        "no repaint of “a blue square”: its regions cover 60% of the image"  # an object group, by its name


def test_the_policys_own_terms_become_what_they_mean():
    w = words()
    assert w.reason("nothing new holds; the image changed only 0.4%, so the strength goes up") == \
        "nothing new passes; the image barely changed (0.4%), so the next try changes more"
    assert w.reason("cannot make a first image: txt2img is tabu here") == \
        "cannot make a first image: not tried again here: it went wrong here before"
    assert w.reason("skipped img2img: tried 1 time(s) here without progress") == \
        "skipped a redraw: tried 1 time(s) here without progress"
    assert w.action_class("img2img|s=0.80") == "a redraw at strength 0.8"
    assert w.action_class("inpaint|r=0.00,0.30,0.40,0.70") == "a repaint of a region there"
    assert w.action_class("variations|s=0.35|n=3") == "variations at strength 0.35"
    assert w.error("rocket.png is not readable (UnidentifiedImageError)") == "rocket.png is not readable"
    assert w.error("txt2img failed in StableDiffusionPipeline: ValueError: steps too large") == \
        "txt2img failed in StableDiffusionPipeline: steps too large"


def test_a_whole_run_reads_without_an_id_or_an_internal_word():
    w = Words()  # learns the checklist from the plan, as the terminal does
    events = [
        PlanEvent(event_id="0", checklist=[f"{r['id']}: {r['text']}" for r in CHECKLIST], prompt="p", source="scene"),
        DecideEvent(event_id="1", decision="txt2img", reason="first image from the prompt"),
        GenerateEvent(event_id="2", action="txt2img", nodes=["n1"], seeds=[0], parent="root"),
        CritiqueEvent(event_id="3", node_id="n1", score=0.75, failed=["background"]),
        SelectEvent(event_id="4", outcome="no-progress", node_id="n1", reason="nothing new holds"),
        DecideEvent(event_id="5", decision="img2img", reason="global failure (background): rebuild",
                    notes=["skipped txt2img: tabu here"]),
        GenerateEvent(event_id="6", action="inpaint", cancelled=True),
        AskHumanEvent(event_id="7", answer={"action": "amend", "keep": "change"}),
        SelectEvent(event_id="8", outcome="amended", node_id="n6", amendment={
            "replaced": [{"id": "g1.object", "text": "a blue square"}],
            "added": [{"id": "g1.object@1", "text": "a green circle", "replaces": ["g1.object"]}]}),
        CritiqueEvent(event_id="9", node_id="n6", score=0.5, failed=["g1.object@1"]),
        FinishEvent(event_id="10", status="exhausted", reason="no untried action left at the current node", best="n6",
                    best_score=0.5),
    ]
    lines = [w.event(e) for e in events]
    text = "\n".join(line for line in lines if line)
    assert not IDS.search(text), text
    assert "✗ yellow background" in text and "a repaint of a region cancelled: you stopped it" in text
    assert "the brief changes with you: “a blue square” → “a green circle”" in text
    assert "✗ a green circle" in text and "nothing left to try from this image" in text
    assert "keep my change" in text
