"""sculpt's command line: ``sculpt run | resume | chat | batch | studio`` here, and commands other
packages add through the ``sculpt.commands`` entry point group (``bench`` and ``eval-critic`` from
evals), mounted when the program starts — so importing the agent never imports them.

Errors become messages and exit codes in one place: agent/cli/errors.py.
"""
from __future__ import annotations

from importlib.metadata import entry_points

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  pretty_exceptions_show_locals=False,
                  help="sculpt: refine an image against a brief with a critic, a state machine and diffusers tools.")

_PLUGINS_MOUNTED = False


def _mount_builtin() -> None:
    from agent.cli import batch, chat, run, studio

    for module in (run, chat, batch, studio):
        module.register(app)


def mount_plugins() -> None:
    """Add every command registered under the ``sculpt.commands`` entry point group (once)."""
    global _PLUGINS_MOUNTED
    if _PLUGINS_MOUNTED:
        return
    _PLUGINS_MOUNTED = True
    for ep in sorted(entry_points(group="sculpt.commands"), key=lambda e: e.name):
        ep.load()(app)


def sculpt_app() -> typer.Typer:
    """The whole command line, plugins included (what the ``sculpt`` program runs)."""
    mount_plugins()
    return app


def main() -> None:
    from tools.engine.quiet import quiet_libraries

    quiet_libraries()
    sculpt_app()()


_mount_builtin()
