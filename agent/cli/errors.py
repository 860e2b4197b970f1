"""The one place where sculpt's errors and run statuses become messages and exit codes.

Exit codes, for every command: 0 accepted (or done) · 3 stopped without acceptance (budget,
plateau, nothing left, stopped by the person; the best image is still reported) · 4 a critic or
another service could not be reached or never answered usably (finished work is kept; the same
command, or `sculpt resume`, continues) · 5 a batch's workers are all gone (Ray's node died;
finished briefs are kept, the same command resumes the rest) · 2 bad input · 1 a bug in sculpt
(one line, and where the traceback was written).
"""
from __future__ import annotations

import functools

import typer
from rich.console import Console
from rich.markup import escape

from agent.batch.errors import WorkersLost
from agent.critics.base import CriticError
from agent.errorlog import log_bug
from agent.status import CRITIC_TROUBLE, Status
from tools.errors import InternalError, SculptError, Unreachable

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_STOPPED, EXIT_CRITIC, EXIT_WORKERS = 0, 1, 2, 3, 4, 5

console = Console(stderr=True, highlight=False, soft_wrap=True)


def exit_code(status: str) -> int:
    """The exit code of a command that leaves a run (or all of a batch's runs) in ``status``."""
    if status == Status.ACCEPTED:
        return EXIT_OK
    if status in CRITIC_TROUBLE:
        return EXIT_CRITIC
    return EXIT_STOPPED


def error_code(exc: SculptError) -> int:
    if isinstance(exc, WorkersLost):
        return EXIT_WORKERS
    if isinstance(exc, (CriticError, Unreachable)):
        return EXIT_CRITIC
    if isinstance(exc, InternalError):
        return EXIT_INTERNAL
    return EXIT_INPUT


def fail(message: str, code: int) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def guarded(fn):
    """Wrap a command: sculpt's own errors become one-line messages with their exit code; anything
    else is a bug, reported in one line with the file that holds its traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except CriticError as exc:
            raise fail(f"the critic failed: {exc}", EXIT_CRITIC) from None
        except SculptError as exc:
            raise fail(str(exc), error_code(exc)) from None
        except KeyboardInterrupt:
            raise fail("interrupted; what was finished is kept (resume continues it)", EXIT_STOPPED) from None
        except Exception as exc:  # a bug: no traceback for people, but nothing hidden either
            log = log_bug(exc)
            raise fail(f"{type(exc).__name__}: {exc} — a bug in sculpt; the traceback is in {log}",
                       EXIT_INTERNAL) from None

    return wrapper
