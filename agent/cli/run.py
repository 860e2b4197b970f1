"""``sculpt run`` and ``sculpt resume``: autonomous runs, started or continued."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from agent.cli.display import console, print_result, progress_printer, words_of
from agent.cli.options import ALLOW_FRESH_HELP, CRITIC_OPTION_HELP, LOCALISER_HELP
from agent.cli.errors import EXIT_STOPPED, exit_code, guarded


def run(
    brief: str = typer.Argument(..., help="what the picture must show"),
    image: Optional[Path] = typer.Option(None, "--image", help="start from your own image (PNG, JPEG, WebP): "
                                         "it is refined toward the brief"),
    model: Optional[str] = typer.Option(None, help="diffusers folder, .safetensors file or hub id "
                                        "(default: the built-in shapes model)"),
    critic: Optional[str] = typer.Option(None, help="scene (exact, shapes world), noisy:RATE, openai:MODEL, "
                                         "hf:PATH_OR_ID, scripted:PATH"),
    critic_base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible server, e.g. "
                                                  "http://localhost:8000/v1 (short for --critic-option base_url=URL)"),
    critic_option: Optional[list[str]] = typer.Option(None, "--critic-option", metavar="KEY=VALUE",
                                                     help=CRITIC_OPTION_HELP),
    localiser: Optional[str] = typer.Option(None, "--localiser", metavar="SPEC", help=LOCALISER_HELP),
    rewriter: Optional[str] = typer.Option(None, help="rules, keep, openai:MODEL (default: auto)"),
    budget: Optional[int] = typer.Option(None, help="generator calls (images) for the run [default: 8]"),
    max_seconds: Optional[float] = typer.Option(None, help="wall-time budget in seconds"),
    max_usd: Optional[float] = typer.Option(None, help="critic cost budget in dollars"),
    max_tokens: Optional[int] = typer.Option(None, help="critic token budget"),
    seed: int = typer.Option(0, help="base seed; every image's own seed is recorded"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="where run folders go [default: runs]"),
    steps: Optional[int] = typer.Option(None, help="denoising steps (default: the model's recommended)"),
    guidance: Optional[float] = typer.Option(None, help="classifier-free guidance scale"),
    width: Optional[int] = typer.Option(None, help="image width for new images (default: the model's native size)"),
    height: Optional[int] = typer.Option(None, help="image height for new images"),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda, mps"),
    dtype: Optional[str] = typer.Option(None, help="auto, float32, float16, bfloat16"),
    scheduler: Optional[str] = typer.Option(None, help="ddim, euler, euler_a, dpm++, dpm++_karras, unipc"),
    cpu_offload: bool = typer.Option(False, "--cpu-offload", help="keep models in CPU memory between "
                                     "uses (GPU memory of one component at a time)"),
    model_configs: Optional[str] = typer.Option(None, "--model-configs", help="for a single-file checkpoint "
                                                "offline: a diffusers folder of the same family"),
    follow_critic: bool = typer.Option(False, "--follow-critic",
                                       help="take the critic's recommended action when the rules allow it"),
    inpaint_guide: bool = typer.Option(True, "--inpaint-guide/--no-inpaint-guide",
                                       help="prime inpaint regions with the colours their prompt names"),
    allow_fresh: bool = typer.Option(False, "--allow-fresh", help=ALLOW_FRESH_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no step-by-step progress"),
) -> None:
    """Refine an image for BRIEF autonomously and report the best one."""
    from agent.lifecycle import Run
    from agent.settings import load_settings, parse_options, run_spec

    s = load_settings(model=model, critic=critic, critic_base_url=critic_base_url,
                      critic_options=parse_options(critic_option), localiser=localiser, rewriter=rewriter,
                      budget=budget, max_seconds=max_seconds, max_usd=max_usd, max_tokens=max_tokens,
                      runs_dir=out_dir, steps=steps, guidance=guidance, width=width, height=height,
                      device=device, dtype=dtype,
                      scheduler=scheduler, cpu_offload=cpu_offload or None, model_configs=model_configs)
    spec = run_spec(s, brief, seed=seed, follow_critic=follow_critic, inpaint_guide=inpaint_guide,
                    start_image=str(image) if image else None, allow_fresh=allow_fresh)
    with Run.start(spec, s.runs_dir, on_event=progress_printer(quiet), exclusive="sculpt run") as r:
        res = r.advance()
    print_result(res)
    raise typer.Exit(exit_code(res.status))


def resume(
    run_dir: Path = typer.Argument(..., help="the run folder, runs/<run-id>"),
    budget: Optional[int] = typer.Option(None, help="raise the image budget of a run (it carries on if it "
                                         "stopped without an accepted image)"),
    critic: Optional[str] = typer.Option(None, help="judge from here on with another critic spec"),
    critic_base_url: Optional[str] = typer.Option(None, help="point the critic at another server"),
    critic_option: Optional[list[str]] = typer.Option(None, "--critic-option", metavar="KEY=VALUE",
                                                     help=CRITIC_OPTION_HELP),
    localiser: Optional[str] = typer.Option(None, "--localiser", metavar="SPEC", help=LOCALISER_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Continue a run from its last completed step (after a kill, or once the critic is back)."""
    from agent.lifecycle import Run
    from agent.settings import changed_options

    with Run.open(run_dir, budget=budget, critic_spec=critic,
                  critic_options=changed_options(critic_option, critic_base_url), localiser=localiser,
                  on_event=progress_printer(quiet, words_of(run_dir)), exclusive="sculpt resume") as r:
        res = r.advance()
    if res.waiting:
        console.print(f"this is a chat run waiting for you: continue it with `sculpt chat --resume {run_dir}`")
        raise typer.Exit(EXIT_STOPPED)
    print_result(res)
    raise typer.Exit(exit_code(res.status))


def register(app: typer.Typer) -> None:
    app.command()(guarded(run))
    app.command()(guarded(resume))
