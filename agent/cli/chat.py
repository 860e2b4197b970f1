"""``sculpt chat``: the same graph with a person in the loop, in the terminal.

After each critique the run stops at its question (the ask_human interrupt) and shows the image,
the checklist and any variations; the person answers with one line:

    a | accept            accept this image
    <enter> | c           let the agent decide the next move
    v | vary [strength]   variations of this image to pick from (default: the policy's variation strength)
    p n5 | pick n5        pick a variation (recorded in picks.jsonl as a preference)
    b n3 | branch n3      continue from another image of the tree
    r x0 y0 x1 y1 [text]  redo a region (fractions of the image), optionally saying what goes there
    s | stop              stop here (your pick, else the best image, is the answer)
    k | keep              after your edit lost a requirement: keep your change (the brief lets it go)
    kb | keep brief       ... or keep the brief as it was (back to where the edit started)
    anything else         feedback: a rewrite hint, and a requirement where the critic can check it
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.prompt import Prompt
from rich.table import Table

from agent.cli.display import console, print_result, progress_printer, verdict_label, words_of
from agent.cli.options import ALLOW_FRESH_HELP, CRITIC_OPTION_HELP, LOCALISER_HELP
from agent.cli.errors import EXIT_STOPPED, exit_code, guarded
from agent.policy.config import PolicyConfig

# The default strength shown is the policy's (agent/policy/config.py), the one a bare "v" gets.
PROMPT = (f"[a]ccept · [enter] continue · v [strength, default {PolicyConfig().variation_strength:g}] · p NODE · "
          "b NODE · r x0 y0 x1 y1 [what] · s · k / kb · or feedback")


def parse_answer(line: str) -> dict[str, Any]:
    """One typed line -> an answer for the run's question (agent/answers.py checks it)."""
    text = line.strip()
    word, _, rest = text.partition(" ")
    word = word.lower()
    if word in ("", "c", "continue"):
        return {"action": "continue"}
    if word in ("a", "accept"):
        return {"action": "accept"}
    if word in ("s", "stop", "q", "quit"):
        return {"action": "stop"}
    if word in ("p", "pick"):
        return {"action": "pick", "node": rest.strip()}
    if word in ("b", "branch"):
        return {"action": "branch", "node": rest.strip()}
    if word in ("v", "vary"):
        return {"action": "vary", "strength": rest.strip() or None}
    if word in ("r", "region"):
        parts = rest.split()
        return {"action": "region", "region": parts[:4], "prompt": " ".join(parts[4:]) or None}
    if word in ("f", "feedback"):
        return {"action": "feedback", "text": rest}
    if word in ("k", "keep", "kb"):
        brief = word == "kb" or rest.strip().lower() in ("b", "brief")
        return {"action": "amend", "keep": "brief" if brief else "change"}
    return {"action": "feedback", "text": text}


def show_question(q: dict[str, Any], run_dir: Path) -> None:
    if q.get("error"):
        console.print(f"[red]{escape(q['error'])}[/]")
    if q.get("cancelled"):
        console.print("the image was cancelled; nothing was added to the tree")
    if q.get("image"):
        picked = " · your pick" if q.get("picked") == q["node"] else ""
        table = Table(title=f"{q['node']} · score {q['score']:.2f}{picked} · {run_dir / q['image']}")
        table.add_column("requirement")
        table.add_column("")
        table.add_column("evidence", overflow="fold")
        for v in q["verdicts"]:
            table.add_row(escape(v.get("text", v["id"])), verdict_label(v), escape(v["evidence"]))
        console.print(table)
    for var in q.get("variations", []):
        console.print(f"  variation {var['node']}: score {var['score']:.2f} · {run_dir / var['image']}")
    if q.get("amend"):  # only the person can say whether their change stands
        console.print(f"[magenta]{escape(q['amend']['question'])}[/] {escape(q['amend'].get('detail') or '')} "
                      "Answer k (keep your change) or kb (keep the brief).")
    if q.get("offer"):
        console.print(f"[magenta]{escape(q['offer'])}[/] (a: accept it)")
    console.print(f"  report: {q['report']}")


def chat(
    brief: Optional[str] = typer.Argument(None, help="what the picture must show (asked for if omitted)"),
    resume: Optional[Path] = typer.Option(None, "--resume", help="continue a chat run folder"),
    image: Optional[Path] = typer.Option(None, "--image", help="start from your own image"),
    model: Optional[str] = typer.Option(None, help="diffusers folder, single file or hub id"),
    critic: Optional[str] = typer.Option(None, help="scene, noisy:RATE, openai:MODEL, hf:PATH_OR_ID, scripted:PATH"),
    critic_base_url: Optional[str] = typer.Option(None),
    critic_option: Optional[list[str]] = typer.Option(None, "--critic-option", metavar="KEY=VALUE",
                                                     help=CRITIC_OPTION_HELP),
    localiser: Optional[str] = typer.Option(None, "--localiser", metavar="SPEC", help=LOCALISER_HELP),
    budget: Optional[int] = typer.Option(None, help="generator calls for the run [default: 8]"),
    seed: int = typer.Option(0),
    allow_fresh: bool = typer.Option(False, "--allow-fresh", help=ALLOW_FRESH_HELP),
    out_dir: Optional[Path] = typer.Option(None, "--out"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Refine an image together: after each critique you accept, give feedback, pick or mark a region."""
    from agent.lifecycle import Run
    from agent.settings import changed_options, load_settings, parse_options, run_spec

    if resume is not None:
        # As `sculpt resume`: a critic or server named here judges from now on (run.json records it).
        run = Run.open(resume, budget=budget, critic_spec=critic,
                       critic_options=changed_options(critic_option, critic_base_url), localiser=localiser,
                       on_event=progress_printer(quiet, words_of(resume)), exclusive="sculpt chat")
    else:
        s = load_settings(model=model, critic=critic, critic_base_url=critic_base_url,
                          critic_options=parse_options(critic_option), localiser=localiser, budget=budget,
                          runs_dir=out_dir)
        spec = run_spec(s, brief or Prompt.ask("brief"), seed=seed, mode="chat",
                        start_image=str(image) if image else None, allow_fresh=allow_fresh)
        run = Run.start(spec, s.runs_dir, on_event=progress_printer(quiet), exclusive="sculpt chat")
    with run:
        res = run.advance()  # killed mid-step: finish the step; waiting: ask again
        while res.waiting:
            show_question(res.question, res.run_dir)
            try:
                line = Prompt.ask(escape(PROMPT), default="", show_default=False)
            except EOFError:  # input ended (a pipe, Ctrl-D): leave the question open for later
                console.print(f"left waiting at {res.question['node']}; go on with "
                              f"[bold]sculpt chat --resume {res.run_dir}[/]")
                raise typer.Exit(EXIT_STOPPED)
            res = run.advance(parse_answer(line))
    print_result(res)
    raise typer.Exit(exit_code(res.status))


def register(app: typer.Typer) -> None:
    app.command()(guarded(chat))
