"""prompt-only (Idea2Img-style): the critic's feedback rewrites the prompt; images are never edited.

txt2img, critique, rewrite the prompt from the critique, txt2img again with the next seed, up to B
images; the answer is the best image by the driving critic's score. When the critic says every
requirement passes the method stops, and the rest of the budget is not spent. When the rewriter
has nothing untried to offer, the best image's prompt is sampled again with the next seed (what
sculpt's agent does too).
"""
from __future__ import annotations

from agent.critics.base import CriticError
from agent.rewriters.registry import make_rewriter
from agent.spec import RunSpec
from evals.bench.methods.common import DrivingCritic, MethodResult, Shot, Trial, best_so_far


def run_prompt_only(trial: Trial) -> MethodResult:
    driver = DrivingCritic(trial)
    # The agent's own choice: the rules for the exact critic, the critic's model otherwise.
    run_spec = RunSpec(brief=trial.brief, critic=trial.critic_spec, critic_options=dict(trial.critic_options))
    rewriter = make_rewriter(run_spec.rewriter_spec(), **run_spec.rewriter_options())
    prompt = driver.prompt
    tried = [prompt]
    shots: list[Shot] = []
    rewrites, satisfied = 0, False
    for i in range(trial.budget):
        rec = trial.engine.txt2img(prompt, seed=trial.seed + i)
        image = rec.images[0]
        crit = driver.critique(image)
        shots.append(Shot(task="txt2img", seed=rec.seeds[0], prompt=prompt, image=image,
                          score=None if crit is None else round(crit.score, 4),
                          claimed=None if crit is None else crit.all_passed))
        satisfied = crit is not None and crit.all_passed
        if satisfied or i == trial.budget - 1:
            break
        new = None
        if crit is not None:  # without a critique there is nothing to rewrite from
            try:
                rw = rewriter.rewrite(trial.brief, driver.checklist, crit, prompt, tried, image=image)
                driver.usage += rw.usage
                new = rw.prompt
            except CriticError as exc:  # a rewriter that cannot answer: same prompt, new seed
                driver.usage += exc.usage
        if new:
            prompt, rewrites = new, rewrites + 1
            tried.append(new)
        else:
            prompt = shots[best_so_far([s.score for s in shots])[-1]].prompt
    choice = best_so_far([s.score for s in shots])
    return MethodResult(shots=shots, choice=list(choice), final=choice[-1], usage=driver.spent(),
                   info={"rewriter": rewriter.name, "rewrites": rewrites,
                         "stopped": "critic satisfied" if satisfied else "budget"},
                   measured=driver.measured())
