"""The fallible critic: mistakes fixed per image and requirement, seen alike through every question,
at the asked rate, with the asked bias, worded and boxed like the wrong verdict; its spec and its
use in eval-critic."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from agent.contracts import Critique, Requirement
from agent.critics.noise_model import ShapesMeasure, false_fail_evidence, false_pass_evidence, unit_hash
from agent.critics.noisy import NoisyCritic
from agent.critics.registry import make_critic
from agent.critics.scene import SceneCritic
from evals.critic_eval.critics import identity
from tools.errors import BriefError, InputError, LayoutError
from tools.shapes.parse import parse_brief
from tools.shapes.render import render
from tools.shapes.sample import random_brief
from tools.shapes.vocab import COLOURS

EXACT = SceneCritic()


@dataclass
class Judged:
    """One rendered image, the brief it is judged against and the exact critic's answer."""

    brief: str
    image: Image.Image
    checklist: list[Requirement]
    truth: Critique


def _recoloured(brief, rng) -> str | None:
    """The brief with its first object in a colour the image does not show: some requirements fail."""
    used = {g.colour for g in brief.groups} | {brief.background}
    colour = str(rng.choice([c for c in COLOURS if c not in used]))
    groups = [brief.groups[0].model_copy(update={"colour": colour}), *brief.groups[1:]]
    try:
        return parse_brief(brief.model_copy(update={"groups": groups}).text()).text()
    except BriefError:
        return None


def _sample(n: int, seed: int) -> list[Judged]:
    """n images, cheaply rendered; every second one judged against a brief it partly fails."""
    rng = np.random.default_rng(seed)
    out: list[Judged] = []
    while len(out) < n:
        b = random_brief(rng, int(rng.integers(1, 4)))
        try:
            image, _ = render(b, rng)
        except LayoutError:
            continue
        text = b.text() if len(out) % 2 == 0 else _recoloured(b, rng)
        if text is None:
            continue
        checklist = EXACT.plan(text).checklist
        out.append(Judged(text, image, checklist, EXACT.critique(image, text, checklist)))
    return out


@pytest.fixture(scope="module")
def sample() -> list[Judged]:
    return _sample(400, seed=5)


def _mistakes(critic: NoisyCritic, items: list[Judged]):
    """(item, truth verdict, noisy verdict, noisy critique) for every verdict the critic got wrong."""
    for j in items:
        noisy = critic.mislead(j.truth, j.image, j.brief, j.checklist)
        for t, v in zip(j.truth.verdicts, noisy.verdicts):
            if t.passed != v.passed:
                yield j, t, v, noisy


def _within(observed: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    return abs(observed / n - p) <= sigmas * math.sqrt(p * (1 - p) / n)


def _answers(c: Critique):
    return [(v.id, v.passed, v.evidence, v.region) for v in c.verdicts]


# -- one image and requirement, one answer -------------------------------------------------------
def test_the_same_image_gets_the_same_mistakes_from_any_instance(sample):
    a, b = make_critic("noisy:0.3"), make_critic("noisy:0.3")
    wrong = 0
    for j in sample[:30]:
        first = a.critique(j.image, j.brief, j.checklist)
        assert _answers(first) == _answers(a.critique(j.image, j.brief, j.checklist))
        assert _answers(first) == _answers(b.critique(j.image.copy(), j.brief, j.checklist))  # by content
        assert first.score == b.critique(j.image, j.brief, j.checklist).score
        wrong += sum(t.passed != v.passed for t, v in zip(j.truth.verdicts, first.verdicts))
    assert wrong > 5  # the comparison above was about real mistakes


def test_draws_are_a_content_hash_not_pythons_salted_hash():
    # Pinned: the same in every process and on every machine (PYTHONHASHSEED does not matter).
    assert unit_hash(0, "abc", "g0.object", "flip") == pytest.approx(0.5888043, abs=1e-6)


def test_the_same_mistake_is_seen_through_every_question():
    critic = make_critic("noisy:0.4")
    brief = "a large red circle to the left of a small blue square, white background"
    checklist = critic.plan(brief).checklist
    rng = np.random.default_rng(1)
    images = [render(parse_brief(brief), rng)[0] for _ in range(40)]
    critiques = [critic.critique(im, brief, checklist) for im in images]
    # Every rendering is correct; find one the judge faults and one it does not.
    bad = next(i for i, c in enumerate(critiques) if not c.all_passed)
    good = next(i for i, c in enumerate(critiques) if c.all_passed)
    wrong = critiques[bad].failed_ids
    a, b = images[bad], images[good]

    assert critiques[bad].score < 1.0 and critic.critique(a, brief, checklist).failed_ids == wrong  # re-ask
    ranking = critic.rank([a, images[good], a.copy()], brief, checklist)
    assert ranking.order[0] == 1 and ranking.scores == [critiques[bad].score, 1.0, critiques[bad].score]
    assert ranking.usage.calls == 3  # one question per image, as the exact critic counts them
    assert critic.compare(a, b, brief, checklist).best == 1 and critic.compare(b, a, brief, checklist).best == 0
    assert critic.judge_pair(a, b, brief, checklist).order == [1, 0]
    assert critic.judge_pair(b, a, brief, checklist).order == [0, 1]
    held = [r.id for r in checklist]
    drift = critic.drift(b, a, brief, checklist, held)
    assert drift.lost == wrong and drift.usage.calls == 1
    assert not critic.drift(a, b, brief, checklist, held).drifted
    for rid in wrong:  # the drift report quotes the same wrong evidence
        assert critiques[bad].verdict(rid).evidence in drift.evidence


def test_different_images_get_independent_mistakes():
    critic = make_critic("noisy:0.5")
    brief = "a small green triangle above a large orange square"
    checklist = critic.plan(brief).checklist
    rng = np.random.default_rng(2)
    flips = []
    for _ in range(150):
        c = critic.critique(render(parse_brief(brief), rng)[0], brief, checklist)
        flips.append([not v.passed for v in c.verdicts])  # every rendering is right: a failure is a mistake
    flips = np.array(flips)
    n = flips.size
    assert _within(int(flips.sum()), n, 0.5)
    # Independent across images: consecutive images agree on a requirement half the time at rate
    # 0.5, not always (as they would if the mistake were keyed on the requirement alone).
    agree = int((flips[1:] == flips[:-1]).sum())
    assert _within(agree, flips[1:].size, 0.5)


# -- the rate and its options --------------------------------------------------------------------
def test_the_rate_is_honoured_over_many_images(sample):
    total = sum(len(j.truth.verdicts) for j in sample)
    assert total > 1500
    for spec, rate in (("noisy:0.2", 0.2), ("noisy:0.1,seed=9", 0.1), ("noisy:0", 0.0)):
        wrong = sum(1 for _ in _mistakes(make_critic(spec), sample))
        assert _within(wrong, total, rate) if rate else wrong == 0, (spec, wrong / total)


def test_near_moves_mistakes_onto_borderline_answers_at_about_the_same_rate(sample):
    items = sample[:200]
    total = sum(len(j.truth.verdicts) for j in items)
    difficulty = {}
    for j in items:
        measure = ShapesMeasure.of(j.image, j.brief, j.checklist)
        difficulty[id(j)] = {r.id: measure.difficulty(r) for r in j.checklist}
    mean_all = np.mean([d for j in items for d in difficulty[id(j)].values()])

    def mean_of_mistakes(spec):
        found = [difficulty[id(j)][t.id] for j, t, _, _ in _mistakes(make_critic(spec), items)]
        return len(found), float(np.mean(found))

    n_plain, d_plain = mean_of_mistakes("noisy:0.25")
    n_near, d_near = mean_of_mistakes("noisy:0.25,near=4")
    assert _within(n_near, total, 0.25, sigmas=5) and _within(n_plain, total, 0.25)
    assert abs(d_plain - mean_all) < 0.05 and d_near > d_plain + 0.05


def test_yes_bias_turns_mistakes_into_false_passes(sample):
    mixed = [j for j in sample if not j.truth.all_passed and j.truth.passed_ids]
    total = sum(len(j.truth.verdicts) for j in mixed)
    failing = sum(len(j.truth.failed_ids) for j in mixed)

    def false_passes(spec):
        found = [t.passed for _, t, _, _ in _mistakes(make_critic(spec), mixed)]
        return len(found), len(found) - sum(found)

    n_plain, fp_plain = false_passes("noisy:0.2")
    n_yes, fp_yes = false_passes("noisy:0.2,yes=0.8")
    assert _within(fp_plain, n_plain, failing / total)  # unbiased: mistakes fall where the answers are
    assert _within(fp_yes, n_yes, 0.8) and _within(n_yes, total, 0.2)  # same rate, mostly "yes"
    # An image that passes everything can only be faulted, and a yes-biased judge rarely does.
    perfect = [j for j in sample if j.truth.all_passed]
    n_perfect = sum(len(j.truth.verdicts) for j in perfect)
    faulted = sum(1 for _ in _mistakes(make_critic("noisy:0.2,yes=0.8"), perfect))
    assert _within(faulted, n_perfect, 0.2 * 0.2)


# -- what a mistake looks like ---------------------------------------------------------------------
def test_evidence_regions_defects_and_score_follow_the_wrong_verdict(sample):
    critic = make_critic("noisy:0.3")
    shifted_or_loose = missing = 0
    for j, truth, v, noisy in _mistakes(critic, sample):
        req = next(r for r in j.checklist if r.id == v.id)
        owners = [d for d in noisy.defects if v.id in d.requirement_ids]
        if v.passed:  # a false pass: stated as holding, nowhere to fix
            assert v.evidence == false_pass_evidence(req) and v.region is None and not owners
        else:  # a false failure: stated as missing, one defect where the judge points
            assert v.evidence == false_fail_evidence(req)
            assert len(owners) == 1 and owners[0].region == v.region
            assert owners[0].kind == ("replace" if v.region else "global") and owners[0].group == req.group
            anchor = ShapesMeasure.of(j.image, j.brief, j.checklist).anchor(req)
            if req.kind != "background" and anchor is not None:
                missing += v.region is None
                shifted_or_loose += v.region is not None and v.region != anchor
        passed = set(noisy.passed_ids)
        assert not any(d.requirement_ids and set(d.requirement_ids) <= passed for d in noisy.defects)
        assert noisy.score == pytest.approx(len(passed) / len(noisy.verdicts))  # as the scene critic scores
        assert noisy.critic == "noisy:0.3:scene" and noisy.usage.calls == j.truth.usage.calls
    assert missing > 10 and shifted_or_loose > 20


def test_a_wrapped_critics_own_score_defects_and_confidence_carry_over(tmp_path):
    script = tmp_path / "vlm.json"
    script.write_text(json.dumps({"critiques": [{"fail": ["g0.object"], "regions": {"g0.object": [0, 0, .5, .5]},
                                                 "score": 0.4, "confidence": 0.7}]}))
    critic = make_critic(f"noisy:1:scripted:{script}")  # rate 1: every verdict is reversed
    assert critic.name == "noisy:1:scripted:vlm.json" and not critic.exact
    brief = "a red circle above a blue square"
    checklist = critic.plan(brief).checklist
    noisy = critic.critique(Image.new("RGB", (64, 64), "white"), brief, checklist)
    assert noisy.passed_ids == ["g0.object"] and noisy.verdict("g0.object").region is None
    assert all(v.confidence == 0.7 for v in noisy.verdicts)
    # the script's own score, moved by the share of verdicts that changed (+1 pass, -2 passes of 3)
    assert noisy.score == pytest.approx(0.4 + (1 - 2) / 3)
    assert sorted(i for d in noisy.defects for i in d.requirement_ids) == sorted(noisy.failed_ids)


# -- the spec ------------------------------------------------------------------------------------------
def test_names_carry_every_option_and_planning_is_the_wrapped_critics():
    assert make_critic("noisy:0.1").name == "noisy:0.1:scene"
    assert make_critic("noisy:0.10,seed=0:scene").name == "noisy:0.1:scene"  # defaults are left out
    c = make_critic("noisy:0.1, yes=0.7, near=2, seed=3:scene")
    assert c.name == "noisy:0.1,yes=0.7,near=2,seed=3:scene" and not c.exact
    assert c.plan("a red circle") == EXACT.plan("a red circle")
    assert make_critic("noisy:0.2:scripted:first").name == "noisy:0.2:scripted:first"


@pytest.mark.parametrize("spec, message", [
    ("noisy", "needs an error rate"),
    ("noisy:", "needs an error rate"),
    ("noisy:1.5", "rate must be between 0 and 1, got '1.5'"),
    ("noisy:abc", "rate must be a number, got 'abc'"),
    ("noisy:nan", "rate must be a number"),
    ("noisy:0.1,colour=red", "unknown noisy critic option 'colour=red'"),
    ("noisy:0.1,yes", "unknown noisy critic option 'yes'"),
    ("noisy:0.1,yes=2", "yes must be between 0 and 1"),
    ("noisy:0.1,near=-1", "near must be 0 or more"),
    ("noisy:0.1,seed=x", "seed must be an integer"),
    ("noisy:0.1,seed=1,seed=2", "given twice"),
    ("noisy:0.1:", "nothing after the colon"),
    ("noisy:0.1:oracle", "unknown critic spec 'oracle'"),
])
def test_bad_specs_are_clear_input_errors(spec, message):
    with pytest.raises(InputError) as err:
        make_critic(spec)
    assert message in str(err.value)


# -- eval-critic ---------------------------------------------------------------------------------------
def test_eval_critic_judges_with_a_noisy_critic(tmp_path):
    import typer

    from evals.critic_eval.cli import register
    from evals.critic_eval.fixtures import write_fixture

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """sculpt"""

    register(app)
    data = write_fixture("picks", tmp_path / "fx")
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["eval-critic", "--dataset", str(data), "--format", "picks", "--critic",
                                      "noisy:0.3", "--critic", "scene", "--out", str(out), "--no-progress",
                                      "--bootstrap", "200"])
    assert result.exit_code == 0, result.output
    noisy, scene = json.loads((out / "metrics.json").read_text())["critics"]
    assert noisy["label"] == "noisy:0.3" and scene["accuracy"]["with_ties"]["value"] == 1.0
    # The same mistakes whichever image is shown first: never a position flip.
    assert noisy["position"]["flip_rate"]["value"] == 0.0
    assert noisy["accuracy"]["with_ties"]["value"] < 1.0


def test_eval_identity_follows_the_wrapped_critics_script(tmp_path):
    script = tmp_path / "s.json"
    script.write_text(json.dumps({"critiques": [{"pass": "all"}]}))
    spec = f"noisy:0.2:scripted:{script}"
    before = identity(spec, make_critic(spec))
    assert before != identity("noisy:0.3:scripted:" + str(script), make_critic("noisy:0.3:scripted:" + str(script)))
    script.write_text(json.dumps({"critiques": [{"fail": ["g0.object"]}]}))
    assert identity(spec, make_critic(spec)) != before
