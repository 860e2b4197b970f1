"""sculpt's command line. The only place that turns errors into messages and exit codes.

Exit codes: 0 accepted · 3 stopped without acceptance (budget, plateau; the best image is still
reported) · 4 the critic could not be reached or never answered usably (the run folder is kept and
`sculpt resume` continues it) · 2 bad input · 1 an unexpected internal error.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from langgraph.errors import GraphRecursionError

from agent.critics.base import CriticError
from tools.errors import InputError, ModelLoadError, SculptError, UnsupportedTaskError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  pretty_exceptions_show_locals=False,
                  help="sculpt: refine an image against a brief with a critic, a state machine and diffusers tools.")
console = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_STOPPED, EXIT_CRITIC = 0, 1, 2, 3, 4


def exit_code(status: str) -> int:
    if status == "accepted":
        return EXIT_OK
    if status in ("critic_failed", "critic_unavailable"):
        return EXIT_CRITIC
    return EXIT_STOPPED


def fail(message: str, code: int) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def guarded(fn):
    """Turn sculpt's own errors into one-line messages with the right exit code."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CriticError as exc:
            raise fail(f"the critic failed: {exc}", EXIT_CRITIC) from None
        except GraphRecursionError as exc:
            raise fail(f"the run took more graph steps than its limit ({exc}); its folder is kept and "
                       "`sculpt resume` continues it", EXIT_INTERNAL) from None
        except (InputError, ModelLoadError, UnsupportedTaskError) as exc:
            raise fail(str(exc), EXIT_INPUT) from None
        except SculptError as exc:
            raise fail(str(exc), EXIT_INPUT) from None

    return wrapper


def progress_printer(quiet: bool = False):
    """One line per event: what the agent did and why."""
    def show(e: dict) -> None:
        if quiet:
            return
        node = e.get("node")
        if node == "plan":
            console.print(f"[bold]plan[/] {len(e['checklist'])} requirements · prompt: {e['prompt']}")
        elif node == "decide":
            console.print(f"[cyan]decide[/] {e.get('decision')} — {e.get('reason', '')}")
        elif node == "generate" and "error" not in e:
            console.print(f"  generate {', '.join(e['nodes'])} from {e['parent']} "
                          f"(seed {', '.join(map(str, e['seeds']))}, {e['engine_seconds']:.2f}s)")
        elif node == "critique":
            if "error" in e:
                console.print(f"  [red]critique {e['node_id']} failed[/]: {e['error']}")
            else:
                mark = "[green]✓[/]" if not e["failed"] else f"[red]✗ {', '.join(e['failed'])}[/]"
                console.print(f"  critique {e['node_id']}: score {e['score']:.2f} {mark}")
        elif node == "select":
            console.print(f"  select {e.get('node_id', '')}: {e.get('outcome')} — {e.get('reason', '')}")
        elif node == "backtrack":
            console.print(f"  [yellow]backtrack[/] to {e['to']} — {e.get('reason', '')}")
        elif node == "rewrite_prompt":
            console.print(f"  rewrite ({e.get('job')}): {e.get('prompt')}")
    return show


def print_result(res) -> None:
    table = Table(title=f"best image {res.best or '—'}" + (f" · score {res.best_score:.2f}" if res.best else ""),
                  show_header=True)
    table.add_column("requirement")
    table.add_column("")
    for v in res.verdicts:
        table.add_row(v["text"], "[green]pass[/]" if v["passed"] else "[red]fail[/]")
    console.print(table)
    console.print(f"status: [bold]{res.status}[/]" + (f" — {res.stop_reason}" if res.stop_reason else ""))
    out.print(f"run id: {res.run_id}")
    out.print(f"run folder: {res.run_dir}")
    out.print(f"report: {res.run_dir / 'report.html'}")
    out.print(f"best image: {res.best_image if res.best_image else '—'}")


def _critic_options(base_url: Optional[str]) -> dict:
    return {"base_url": base_url} if base_url else {}


@app.command()
@guarded
def run(
    brief: str = typer.Argument(..., help="what the picture must show"),
    model: Optional[str] = typer.Option(None, help="diffusers folder, .safetensors file or hub id (default: the built-in shapes model)"),
    critic: Optional[str] = typer.Option(None, help="scene (exact, shapes world), openai:MODEL, scripted:PATH"),
    critic_base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible server, e.g. http://localhost:8000/v1"),
    rewriter: Optional[str] = typer.Option(None, help="rules, keep, openai:MODEL (default: auto)"),
    budget: Optional[int] = typer.Option(None, help="generator calls (images) for the run [default: 8]"),
    max_seconds: Optional[float] = typer.Option(None, help="wall-time budget in seconds"),
    max_usd: Optional[float] = typer.Option(None, help="critic cost budget in dollars"),
    max_tokens: Optional[int] = typer.Option(None, help="critic token budget"),
    seed: int = typer.Option(0, help="base seed; every image's own seed is recorded"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="where run folders go [default: runs]"),
    steps: Optional[int] = typer.Option(None, help="denoising steps (default: the model's recommended)"),
    guidance: Optional[float] = typer.Option(None, help="classifier-free guidance scale"),
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
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no step-by-step progress"),
) -> None:
    """Refine an image for BRIEF autonomously and report the best one."""
    from agent.runner import start_run
    from agent.settings import load_settings, run_spec

    s = load_settings(model=model, critic=critic, critic_base_url=critic_base_url, rewriter=rewriter,
                      budget=budget, max_seconds=max_seconds, max_usd=max_usd, max_tokens=max_tokens,
                      runs_dir=out_dir, steps=steps, guidance=guidance, device=device, dtype=dtype,
                      scheduler=scheduler, cpu_offload=cpu_offload or None, model_configs=model_configs)
    spec = run_spec(s, brief, seed=seed, follow_critic=follow_critic, inpaint_guide=inpaint_guide)
    res = start_run(spec, s.runs_dir, on_event=progress_printer(quiet))
    print_result(res)
    raise typer.Exit(exit_code(res.status))


@app.command()
@guarded
def resume(
    run_dir: Path = typer.Argument(..., help="the run folder, runs/<run-id>"),
    budget: Optional[int] = typer.Option(None, help="raise the generation budget of a run that stopped on it"),
    critic_base_url: Optional[str] = typer.Option(None, help="point the critic at another server"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Continue a run from its last completed step (after a kill, or once the critic is back)."""
    from agent.runner import resume_run

    res = resume_run(run_dir, budget=budget, critic_options=_critic_options(critic_base_url),
                     on_event=progress_printer(quiet))
    if res.interrupt is not None:
        console.print("this is a chat run waiting for you: continue it with `sculpt chat --resume "
                      f"{run_dir}`")
        raise typer.Exit(EXIT_STOPPED)
    print_result(res)
    raise typer.Exit(exit_code(res.status))


from agent.batch_cli import register as _register_batch  # noqa: E402
from agent.chat_cli import register as _register_chat  # noqa: E402
from evals.bench.cli import register as _register_bench  # noqa: E402
from evals.critic_eval.cli import register as _register_eval_critic  # noqa: E402

_register_chat(app, guarded=guarded, progress=progress_printer, print_result=print_result, exit_code=exit_code)
_register_batch(app, guarded=guarded, exit_code=exit_code)
_register_eval_critic(app)
_register_bench(app)


def main() -> None:
    from tools.engine.quiet import quiet_libraries

    quiet_libraries()
    app()


if __name__ == "__main__":
    main()
