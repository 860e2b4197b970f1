"""A critic-noise sweep on the shapes model: each level a plain benchmark in its own folder, the
critic-free methods reused, the combined table, plot and curves written, and the exact critic's
level free of false accepts and false drifts. 2 briefs, a budget of 3 images, two levels.

Another file checks the false-alarm arithmetic by hand (tests/test_bench_noise.py); this one the
mechanics on real runs."""
from __future__ import annotations

import json

import pytest

from evals.bench.errors import BenchError
from evals.bench.runner import BenchConfig, run_bench
from evals.bench.sweep import SweepConfig, run_sweep

BUDGET = 3


def sweep_config(out, model_dir, **changes) -> SweepConfig:
    bench = BenchConfig(briefs=2, budget=BUDGET, seed=1, out=out, model=str(model_dir), show_progress=False,
                        examples=1)
    return SweepConfig(bench=bench, levels=(0, 0.3), **changes)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, shapes_engine, shapes_model_dir):
    out = tmp_path_factory.mktemp("sweep") / "out"
    config = sweep_config(out, shapes_model_dir)
    return config, run_sweep(config, engine=shapes_engine)


def test_each_level_is_a_plain_benchmark_in_its_own_folder(sweep, shapes_engine):
    config, _ = sweep
    out = config.bench.out
    for level, critic in (("noise-0", "scene"), ("noise-0.3", "noisy:0.3")):
        saved = json.loads((out / level / "results.json").read_text())
        assert saved["settings"]["critic"] == critic
        assert f"--critic {critic} " in saved["command"] and f"--out {out / level} " in saved["command"]
        assert (out / level / "report.html").is_file() and (out / level / "agent-runs" / "d2-000").is_dir()
    # The level's own command (a plain benchmark) reads every result back: nothing runs again.
    again = run_bench(config.level_config(0.3), engine=shapes_engine)
    assert again.resumed == 2 * 5
    digests = {lv: json.loads((out / f"noise-{lv}" / "results.json").read_text())["settings"]["method_digests"]
               for lv in ("0", "0.3")}
    # Critic-driven results never mix across critics; those that use none are the same at every level.
    for m in ("best-of-n", "prompt-only", "agent"):
        assert digests["0"][m] != digests["0.3"][m]
    for m in ("single", "loopback"):
        assert digests["0"][m] == digests["0.3"][m]


def test_methods_without_a_critic_run_once_and_are_reused(sweep):
    config, result = sweep
    out = config.bench.out
    level = result.results["levels"][1]
    assert level["reused"] == {"from": "noise-0", "methods": ["single", "loopback"]}
    assert result.reused == 4 and result.results["levels"][0]["reused"] is None
    assert result.results["timings"]["levels"]["0.3"]["reused_records"] == 4
    for m in ("single", "loopback"):
        for brief in ("d2-000", "d2-001"):
            first = json.loads((out / "noise-0" / "records" / m / f"{brief}.json").read_text())
            copy = json.loads((out / "noise-0.3" / "records" / m / f"{brief}.json").read_text())
            assert copy["record"] == first["record"] and copy["timings"]["reused_from"] == "noise-0"
            for shot in copy["record"]["shots"]:
                assert (out / "noise-0.3" / shot["image"]).is_file()
    assert result.levels["0.3"].resumed == 4


def test_images_made_once_give_the_results_a_plain_benchmark_gets(sweep, shapes_engine, tmp_path):
    config, result = sweep
    calls = result.results["timings"]["levels"]["0.3"]["engine_calls"]
    assert calls["remembered"] >= 2 * BUDGET  # at least best-of-n's samples, made at level 0
    level = config.level_config(0.3)
    level.out = tmp_path / "plain"
    plain = run_bench(level, engine=shapes_engine)  # the same level alone, every image made afresh
    assert plain.resumed == 0 and plain.results["records"] == result.levels["0.3"].results["records"]


def test_the_exact_critic_makes_no_false_accepts_and_no_false_drifts(sweep):
    _, result = sweep
    exact = result.results["aggregates"]["0"]
    for m, cols in exact.items():
        for c, a in cols.items():
            assert a["false_accepts"]["count"] == 0, (m, c)
            if m in ("single", "loopback"):
                assert a["false_accepts"]["claimed"] == 0  # no critic, no claims
    fd = exact["agent"]["2"]["agent"]["false_drifts"]
    assert fd["count"] == 0 and fd["backtracks"]["total"] == 0
    assert fd["drifts"] == exact["agent"]["2"]["agent"]["drifts"]["total"]  # every drift here claims a loss
    noisy = result.results["aggregates"]["0.3"]["best-of-n"]["2"]
    assert noisy["critic_calls"]["mean"] == BUDGET and "false_accepts" in noisy


def test_the_sweep_report_has_the_table_the_plot_and_the_curves(sweep):
    config, result = sweep
    out = config.bench.out
    saved = json.loads((out / "sweep.json").read_text())
    assert saved["command"] == result.results["command"]
    assert "--critic-noise 0,0.3 " in saved["command"] and "--critic " not in saved["command"]
    assert saved["settings"]["critics"] == {"0": "scene", "0.3": "noisy:0.3"}
    assert set(saved["aggregates"]) == {"0", "0.3"}
    md = (out / "report.md").read_text()
    assert saved["command"] in md
    assert "| agent | 2 | " in md and "error 0.3" in md
    for title in ("All-correct rate by critic error rate", "False accepts", "Critic calls per brief",
                  "false drifts", "Agent minus best-of-n", "Success versus budget at critic error rate 0.3"):
        assert title in md, title
    assert "| 0.3 | 2 | +" in md or "| 0.3 | 2 | -" in md  # the margin row of each level
    for png in ("noise.png", "curves.png"):
        assert (out / "plots" / png).read_bytes()[:4] == b"\x89PNG"
    html = (out / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == 2 and 'href="noise-0.3/report.html"' in html


def test_a_rerun_resumes_every_level_to_the_same_results(sweep, shapes_engine):
    config, result = sweep
    again = run_sweep(config, engine=shapes_engine)
    assert [r.resumed for r in again.levels.values()] == [10, 10] and again.reused == 0
    assert {k: v for k, v in again.results.items() if k != "timings"} == \
        {k: v for k, v in result.results.items() if k != "timings"}
    # Results of another critic never mix into a level: a plain benchmark with noisy:0.3 in the
    # folder of level 0 is refused (at its first critic-driven result).
    mixed = config.level_config(0)
    mixed.critic = "noisy:0.3"
    with pytest.raises(BenchError, match="other settings"):
        run_bench(mixed, engine=shapes_engine)
    # A rerun with other settings is refused by the level it would mix into.
    other = sweep_config(config.bench.out, config.bench.model)
    other.bench.budget = 2
    with pytest.raises(BenchError, match="other settings"):
        run_sweep(other, engine=shapes_engine)


def test_the_agent_runs_with_the_policy_given(tmp_path, shapes_engine, shapes_model_dir):
    config = BenchConfig(briefs=1, budget=2, seed=1, out=tmp_path / "out", model=str(shapes_model_dir),
                         methods=("agent",), agent_policy={"variations_n": 2, "retries": 1}, show_progress=False)
    result = run_bench(config, engine=shapes_engine)
    spec = json.loads((tmp_path / "out" / "agent-runs" / "d2-000" / "run.json").read_text())["spec"]
    assert spec["policy"]["variations_n"] == 2 and spec["policy"]["retries"] == 1
    assert result.results["settings"]["agent_policy"] == {"retries": 1, "variations_n": 2}
    assert "--agent-policy retries=1,variations_n=2" in result.results["command"]
    config.agent_policy = {"variations_n": 3}
    with pytest.raises(BenchError, match="other settings"):  # another policy is another agent
        run_bench(config, engine=shapes_engine)
