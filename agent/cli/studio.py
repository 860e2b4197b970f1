"""``sculpt studio``: the chat in a browser (Gradio), on 127.0.0.1 unless told otherwise.

The same graph and run lifecycle as ``sculpt chat``; see agent/studio/ for the page and
agent/studio/server.py for what "safe by default" means here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from agent.cli.display import console
from agent.cli.options import CRITIC_OPTION_HELP, LOCALISER_HELP
from agent.cli.errors import guarded


def studio(
    port: int = typer.Option(7860, help="port to listen on"),
    host: str = typer.Option("127.0.0.1", help="address to listen on; anything but 127.0.0.1/localhost is "
                             "reachable from other machines (a warning is printed)"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="the runs folder: new runs go here, earlier ones "
                                           "are listed from here [default: runs]"),
    model: Optional[str] = typer.Option(None, help="default model for new runs (diffusers folder, file or hub id)"),
    critic: Optional[str] = typer.Option(None, help="default critic: scene, noisy:RATE, openai:MODEL, hf:PATH_OR_ID, "
                                         "scripted:PATH"),
    critic_base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible server for openai: critics"),
    critic_option: Optional[list[str]] = typer.Option(None, "--critic-option", metavar="KEY=VALUE",
                                                     help=CRITIC_OPTION_HELP),
    localiser: Optional[str] = typer.Option(None, "--localiser", metavar="SPEC", help=LOCALISER_HELP),
    budget: Optional[int] = typer.Option(None, help="default image budget for new runs [default: 8]"),
    max_seconds: Optional[float] = typer.Option(None, help="default wall-time budget in seconds"),
    max_usd: Optional[float] = typer.Option(None, help="default critic cost budget in dollars"),
    steps: Optional[int] = typer.Option(None, help="denoising steps (default: the model's recommended)"),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda, mps"),
    auth: Optional[str] = typer.Option(None, help="require a login: user:password"),
    share: bool = typer.Option(False, "--share", help="also make a public gradio.live link (off by default)"),
    previews: bool = typer.Option(True, "--previews/--no-previews", help="show each image while it denoises (a "
                                  "cheap preview every few steps)"),
) -> None:
    """Refine images together in the browser: watch each step, accept, pick, paint a region, branch."""
    from agent.settings import load_settings, parse_options
    from agent.studio.server import host_warning, launch, parse_auth

    s = load_settings(model=model, critic=critic, critic_base_url=critic_base_url,
                      critic_options=parse_options(critic_option), localiser=localiser, budget=budget,
                      max_seconds=max_seconds, max_usd=max_usd, runs_dir=out_dir, steps=steps, device=device)
    warning = host_warning(host, parse_auth(auth), share)
    if warning:
        console.print(f"[bold yellow]warning:[/] {escape(warning)}")
    console.print(f"sculpt studio: runs in {s.runs_dir.resolve()} · open http://{host if ':' not in host else f'[{host}]'}"
                  f":{port} (Ctrl-C stops it)")
    launch(s.runs_dir, s, host=host, port=port, auth=auth, share=share, quiet=True, previews=previews)


def register(app: typer.Typer) -> None:
    app.command()(guarded(studio))
