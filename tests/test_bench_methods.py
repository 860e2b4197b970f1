"""ShapesBench methods on the shapes model: compute matching, seeds, choices, exact judging.

A small benchmark (2 briefs, a budget of 3 images) runs once for the module; each test checks
one method's contract on its records. The images come from the real engine and are judged by the
real exact critic; the tests check the mechanics, not image quality.
"""
from __future__ import annotations

import json

import pytest
from PIL import Image

from agent.critics.scene import SceneCritic
from evals.bench.counting import CountingEngine
from evals.bench.errors import BudgetExceeded
from evals.bench.judge import ExactJudge
from evals.bench.methods import METHOD_NAMES, MethodResult, Shot, Trial, get_method
from evals.bench.methods.common import best_so_far
from evals.bench.methods.loopback import denoising_strength
from evals.bench.records import build_record
from evals.bench.runner import BenchConfig, BriefItem, run_bench
from tools.engine.images import image_hash

BRIEF = "a red circle to the left of a blue square, yellow background"
BUDGET = 3


@pytest.fixture(scope="module")
def bench(tmp_path_factory, shapes_engine, shapes_model_dir):
    out = tmp_path_factory.mktemp("bench") / "out"
    # Seed 1's first briefs have two object groups each, so the rules rewriter has orders to try.
    config = BenchConfig(briefs=2, budget=BUDGET, seed=1, out=out, model=str(shapes_model_dir),
                         show_progress=False, examples=2)
    result = run_bench(config, engine=shapes_engine)
    records = {(r["method"], r["brief_id"]): r for r in result.results["records"]}
    return config, result, records


def of(records, method):
    return [r for (m, _), r in sorted(records.items()) if m == method]


def trial(engine, budget, out, brief=BRIEF, seed=11, proxy_budget=None):
    proxy = CountingEngine(engine, budget if proxy_budget is None else proxy_budget)
    return Trial(brief=brief, brief_id="b0", seed=seed, budget=budget, engine=proxy, critic_spec="scene",
                 critic_options={}, out=out)


def test_the_counting_engine_forwards_and_refuses_before_running(shapes_engine):
    proxy = CountingEngine(shapes_engine, 2, label="greedy")
    assert proxy.identity is shapes_engine.identity and proxy.native_size == shapes_engine.native_size
    assert proxy.default_steps == shapes_engine.default_steps
    proxy.txt2img(BRIEF, seed=1)
    with pytest.raises(BudgetExceeded, match="greedy asked for 3 more image"):
        proxy.variations(None, BRIEF, n=3, seeds=[2, 3, 4])  # a batch counts every image in it
    rec = proxy.txt2img(BRIEF, seed=2)
    with pytest.raises(BudgetExceeded) as caught:
        proxy.img2img(rec.images[0], BRIEF, strength=0.5, seed=3)
    assert (caught.value.budget, caught.value.used, caught.value.requested) == (2, 2, 1)
    assert proxy.used == 2 and [c["task"] for c in proxy.calls] == ["txt2img", "txt2img"]


@pytest.mark.parametrize("method", ["best-of-n", "loopback", "prompt-only"])
def test_a_method_given_less_than_it_needs_is_stopped(method, shapes_engine, tmp_path):
    # A proxy allowing 2 images to a method that spends a budget of 3 (prompt-only spends it all
    # because the poor test model never satisfies the exact critic at these steps).
    t = trial(shapes_engine, 3, tmp_path, proxy_budget=2)
    if method == "prompt-only":
        t.critic_spec = "scripted:" + _script(tmp_path, {"critiques": [{"fail": ["background"]}]})
    with pytest.raises(BudgetExceeded, match="budget of 2"):
        get_method(method)(t)
    assert t.engine.used == 2


def test_a_greedy_method_fails_the_benchmark_and_records_nothing(tmp_path, shapes_engine, shapes_model_dir,
                                                                   monkeypatch):
    from evals.bench import methods

    def greedy(t: Trial) -> MethodResult:  # one image more than its budget
        shots = [Shot(task="txt2img", seed=t.seed + i, prompt=t.brief,
                      image=t.engine.txt2img(t.brief, seed=t.seed + i).images[0]) for i in range(t.budget + 1)]
        return MethodResult(shots=shots, choice=list(range(len(shots))), final=len(shots) - 1)

    monkeypatch.setattr(methods, "_METHODS", dict(methods._METHODS))
    methods.register("greedy", greedy, "one image too many")
    config = BenchConfig(briefs=1, budget=2, out=tmp_path / "out", model=str(shapes_model_dir),
                         methods=("single", "greedy"), show_progress=False)
    with pytest.raises(BudgetExceeded, match="greedy on d2-000 asked for 1 more image.*budget of 2"):
        run_bench(config, engine=shapes_engine)
    assert (tmp_path / "out" / "records" / "single" / "d2-000.json").is_file()
    assert not (tmp_path / "out" / "records" / "greedy").exists()


def test_images_made_around_the_counter_are_refused(shapes_engine, tmp_path):
    t = trial(shapes_engine, 2, tmp_path)
    outcome = get_method("single")(t)
    extra = shapes_engine.txt2img(BRIEF, seed=99)  # the engine itself, not the proxy: not counted
    outcome.shots.append(Shot(task="txt2img", seed=99, prompt=BRIEF, image=extra.images[0]))
    outcome.choice.append(1)
    item = BriefItem(id="b0", difficulty=2, index=0, text=BRIEF, seed=11)
    with pytest.raises(BudgetExceeded, match="reported 2 image.* made 1"):
        build_record(item, "single", outcome, t.engine, ExactJudge(), tmp_path, 2, "x")


def test_every_method_starts_from_the_same_seed_and_image(bench):
    _, _, records = bench
    for brief_id in ("d2-000", "d2-001"):
        rs = [records[(m, brief_id)] for m in METHOD_NAMES]
        assert len({r["shots"][0]["hash"] for r in rs}) == 1
        assert {r["shots"][0]["seed"] for r in rs} == {rs[0]["seed"]}
        for r in rs:
            assert 1 <= r["calls"] <= BUDGET and r["calls"] == len(r["shots"])


def test_single_makes_one_image(bench):
    for r in of(bench[2], "single"):
        assert r["calls"] == 1 and r["success_by_k"] == [r["all_correct"]] and r["final"] == 0


def test_best_of_n_samples_consecutive_seeds_and_keeps_the_best_score(bench):
    for r in of(bench[2], "best-of-n"):
        assert [s["seed"] for s in r["shots"]] == [r["seed"] + i for i in range(BUDGET)]
        assert {s["task"] for s in r["shots"]} == {"txt2img"} and {s["prompt"] for s in r["shots"]} == {r["brief"]}
        scores = [s["score"] for s in r["shots"]]
        assert r["choice"] == best_so_far(scores) and r["shots"][r["final"]]["score"] == max(scores)
        assert r["success_by_k"] == [r["shots"][c]["exact"]["ok"] for c in r["choice"]]
        assert r["usage"]["critic_calls"] == BUDGET


def test_loopback_feeds_each_image_back_with_a1111_strengths(bench, shapes_engine):
    config, _, records = bench
    for r in of(records, "loopback"):
        shots = r["shots"]
        assert [s["task"] for s in shots] == ["txt2img", "img2img", "img2img"]
        assert [s["seed"] for s in shots] == [r["seed"], r["seed"] + 1, r["seed"] + 2]
        assert [s["strength"] for s in shots[1:]] == [0.5, 0.3]
        assert r["choice"] == [0, 1, 2] and r["final"] == 2 and r["usage"]["critic_calls"] == 0
    # The second image is img2img of the first: made again from the stored first image, it matches.
    r = of(records, "loopback")[0]
    first = Image.open(config.out / r["shots"][0]["image"]).convert("RGB")
    again = shapes_engine.img2img(first, r["brief"], strength=denoising_strength(0, 2, 0.5, 0.3), seed=r["seed"] + 1)
    assert image_hash(again.images[0])[:20] == r["shots"][1]["hash"]


def test_prompt_only_rewrites_the_prompt_and_keeps_the_best(bench):
    for r in of(bench[2], "prompt-only"):
        shots = r["shots"]
        assert {s["task"] for s in shots} == {"txt2img"}
        assert [s["seed"] for s in shots] == [r["seed"] + i for i in range(len(shots))]
        assert r["choice"] == best_so_far([s["score"] for s in shots])
        if len(shots) > 1:  # two object groups: the rules rewriter restates the brief in a new order
            assert shots[1]["prompt"] != shots[0]["prompt"] and r["info"]["rewrites"] >= 1
        if r["info"]["stopped"] == "critic satisfied":
            assert shots[-1]["exact"]["ok"]  # the driving critic is the exact one here


def test_the_agent_keeps_its_run_and_its_counts(bench):
    config, result, records = bench
    timings = result.results["timings"]["records"]
    for r in of(records, "agent"):
        info = r["info"]
        run = config.out / info["run"]
        assert (run / "report.html").is_file() and (run / "checkpoint.sqlite").is_file()
        tree = json.loads((run / "tree.json").read_text())
        assert r["calls"] == info["generations"] == tree["spend"]["generations"] == len(r["shots"])
        assert [s["node"] for s in r["shots"]] == [f"n{k}" for k in range(1, len(r["shots"]) + 1)]
        assert r["shots"][r["final"]]["node"] == info["best"] == tree["best"]
        assert info["drifts"] == tree["counters"].get("drifts", 0)
        t = timings[f"agent/{r['brief_id']}"]
        assert 0 <= t["overhead_share"] <= 1 and t["checkpoint_bytes_per_step"] > 0
        assert t["checkpoint_bytes"] == (run / "checkpoint.sqlite").stat().st_size


def test_every_answer_is_judged_by_the_exact_critic(bench):
    config, _, records = bench
    critic = SceneCritic()
    for r in records.values():
        shot = r["shots"][r["final"]]
        crit = critic.critique(Image.open(config.out / shot["image"]).convert("RGB"), r["brief"],
                               critic.plan(r["brief"]).checklist)
        assert shot["exact"] == {"ok": crit.all_passed, "score": round(crit.score, 4), "failed": crit.failed_ids}
        assert r["all_correct"] == crit.all_passed


def test_reports(bench):
    config, result, _ = bench
    out = config.out
    md = (out / "report.md").read_text()
    for m in METHOD_NAMES:
        assert f"| {m} | 2 |" in md
    assert result.results["command"] in md and (out / "plots" / "success_vs_budget.png").is_file()
    html = (out / "report.html").read_text()
    assert 'src="data:image/png;base64,' in html
    assert 'href="agent-runs/d2-000/report.html"' in html and 'href="agent-runs/d2-001/report.html"' in html
    saved = json.loads((out / "results.json").read_text())
    assert saved["records"] == result.results["records"] and set(saved["aggregates"]) == set(METHOD_NAMES)


def _script(tmp_path, script) -> str:
    path = tmp_path / "critic.json"
    path.write_text(json.dumps(script))
    return str(path)


def test_a_driving_critic_decides_and_the_exact_critic_judges(tmp_path, shapes_engine, shapes_model_dir):
    # The driving critic fails the background and the circle of the first image it sees and passes
    # the second, whatever they show; the results are still judged by the exact critic.
    spec = "scripted:" + _script(tmp_path, {"critiques": [{"fail": ["background", "g0.object"]}, {"pass": "all"}]})
    config = BenchConfig(briefs=1, budget=BUDGET, seed=1, out=tmp_path / "out", model=str(shapes_model_dir),
                         methods=("best-of-n", "prompt-only", "agent"), critic=spec, show_progress=False)
    records = {r["method"]: r for r in run_bench(config, engine=shapes_engine).results["records"]}
    best, prompt_only, agent = records["best-of-n"], records["prompt-only"], records["agent"]
    assert best["calls"] == BUDGET and best["choice"] == [0, 1, 1] and best["shots"][1]["score"] == 1.0
    # Stopped once the critic was satisfied: the rest of the budget is not spent, and the answer
    # stands for the rest of the curve.
    assert prompt_only["calls"] == 2 and prompt_only["info"]["stopped"] == "critic satisfied"
    assert len(prompt_only["success_by_k"]) == BUDGET
    assert prompt_only["success_by_k"][2] == prompt_only["success_by_k"][1]
    # The agent confirms a pass of a critic that can be wrong with a witness (a light redraw) first.
    assert agent["info"]["status"] == "accepted" and agent["calls"] == 3
    assert agent["info"]["actions"] == ["txt2img", "img2img", "variations"]
    for r in records.values():
        assert r["all_correct"] == r["shots"][r["final"]]["exact"]["ok"]
        assert r["usage"]["critic_calls"] == r["calls"]


def test_single_needs_no_critic(shapes_engine, tmp_path):
    t = trial(shapes_engine, 4, tmp_path)
    t.critic_spec = "no-such-critic"  # never built: single does not use one
    outcome: MethodResult = get_method("single")(t)
    assert len(outcome.shots) == 1 and t.engine.used == 1 and outcome.extends is False
