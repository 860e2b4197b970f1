"""A critic's card: kinds of requirement it cannot tell apart are not judged, pass for want of a judge
and say so; their probabilities stay out of the score; nothing changes for a critic without one."""
from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from agent.contracts import Verdict
from agent.critics.card import CARD_FILE, CriticCard, KindFigures, load_card, write_card
from agent.critics.registry import make_critic
from agent.critics.vqascore import vqa_critique
from tools.contracts import Requirement
from tools.errors import InputError

BRIEF = "two red circles left of a blue square, white background"


def card(**kinds) -> CriticCard:
    return CriticCard(measured_by="test", images=100, kinds={k: KindFigures(n=n, false_yes=fy, false_no=fn)
                                                              for k, (n, fy, fn) in kinds.items()})


def test_a_kind_is_blind_when_its_yes_and_no_say_nothing_measured_on_enough_questions():
    c = card(count=(700, 0.0, 1.0), relation=(700, 0.2, 0.6), object=(900, 0.1, 0.05),
             position=(10, 0.5, 0.5), size=(500, 0.55, 0.4))
    # count: always "no" (informedness 0); size: a coin (0.05); position: too few questions to say.
    assert c.blind_kinds() == {"count", "size"}
    assert "100% false no over 700 questions" in c.why("count")


def test_vqa_verdicts_of_a_blind_kind_pass_unjudged_and_leave_the_score(tmp_path):
    checklist = [Requirement(id="a", text="a red circle", kind="object"),
                 Requirement(id="b", text="exactly two red circles", kind="count")]
    seen = vqa_critique("hf:x", checklist, [0.8, 0.1], 0.5, None)
    assert [v.passed for v in seen.verdicts] == [True, False] and seen.score == pytest.approx(0.45)
    blind = vqa_critique("hf:x", checklist, [0.8, 0.1], 0.5, None, {"count": "measured"})
    a, b = blind.verdicts
    assert a.judged and a.passed and a.confidence == 0.8
    assert not b.judged and b.passed and b.confidence == 0.5
    assert b.evidence.startswith("not judged: this critic cannot tell count requirements apart (measured)")
    assert "P(yes) = 0.100" in b.evidence  # what it said is kept, for a person to read
    assert blind.all_passed and blind.score == pytest.approx(0.8)
    # A judged verdict is written as before (no new key in tree files); an unjudged one says so.
    assert "judged" not in a.model_dump(mode="json")
    assert Verdict.model_validate(b.model_dump(mode="json")).judged is False


def test_the_hf_critic_reads_the_card_beside_the_model_and_a_person_may_name_kinds(tiny_vlm_dir, tmp_path):
    folder = tmp_path / "vlm"
    shutil.copytree(tiny_vlm_dir("llava"), folder)
    critic = make_critic(f"hf:{folder}", localise="off")
    checklist = critic.plan(BRIEF).checklist
    assert {r.kind for r in checklist} >= {"count", "object", "relation"}
    image = Image.new("RGB", (64, 64), "white")
    assert all(v.judged for v in critic.critique(image, BRIEF, checklist).verdicts)  # no card: all judged

    write_card(folder, card(count=(700, 0.0, 1.0), object=(900, 0.1, 0.05)))
    assert load_card(folder).blind_kinds() == {"count"}
    with_card = make_critic(f"hf:{folder}", localise="off")
    assert with_card.describe()["not_judged"] == ["count"]
    verdicts = with_card.critique(image, BRIEF, checklist).verdicts
    kind = {r.id: r.kind for r in checklist}
    assert {v.id for v in verdicts if not v.judged} == {i for i, k in kind.items() if k == "count"}
    assert all(v.passed for v in verdicts if not v.judged)

    assert all(v.judged for v in make_critic(f"hf:{folder}", localise="off", blind="none")
               .critique(image, BRIEF, checklist).verdicts)
    named = make_critic(f"hf:{folder}", localise="off", blind="relation, count")
    assert named.describe()["not_judged"] == ["count", "relation"]
    with pytest.raises(InputError, match="counts is not a requirement kind; use auto, none or some of"):
        make_critic(f"hf:{folder}", blind="counts")


def test_a_broken_card_is_named(tmp_path):
    (tmp_path / CARD_FILE).write_text(json.dumps({"measured_by": "x", "images": 1, "kinds": {"count": {"n": -1}}}))
    with pytest.raises(InputError, match=r"critic card .* is broken \(kinds.count.n: Input should be greater"):
        load_card(tmp_path)
    (tmp_path / CARD_FILE).write_text("{")
    with pytest.raises(InputError, match="is broken"):
        load_card(tmp_path)


def test_the_studio_and_the_terminal_mark_an_unjudged_requirement_apart_from_a_pass(tmp_path):
    from agent.cli.display import verdict_label
    from agent.studio.views import _MARK, _state

    shown = ({"passed": True}, {"passed": False}, {"passed": True, "judged": False})
    assert [_MARK[_state(v)] for v in shown] == ["✓", "✗", "?"]
    assert [verdict_label(v) for v in shown] == ["[green]pass[/]", "[red]fail[/]", "[dim]not judged[/]"]
