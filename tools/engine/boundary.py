"""The edge of every engine tool: an error that is not sculpt's own leaves as a one-line ToolError.

Inside a tool call diffusers and torch raise whatever they raise (RuntimeError, ValueError,
torch.cuda.OutOfMemoryError, ...). Callers should not have to know them, and people should not see a
traceback for them: the agent records a ToolError as a failed action, the CLI prints its message.
sculpt's own errors (InputError, UnsupportedTaskError, ...) already say what to do and pass through.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tools.errors import SculptError, ToolError

MAX_DETAIL = 500  # characters of the original message; the whole error stays chained as __cause__


@contextmanager
def tool_boundary(tool: str, pipeline_name: Callable[[], str]) -> Iterator[None]:
    """Re-raise any non-sculpt exception from the block as ``ToolError`` naming the tool and pipeline."""
    try:
        yield
    except SculptError:
        raise
    except Exception as exc:
        name = pipeline_name()
        raise ToolError(describe(tool, name, exc), tool=tool, pipeline=name) from exc


def describe(tool: str, pipeline: str, exc: BaseException) -> str:
    detail = " ".join(str(exc).split()) or "(no message)"  # one line: diffusers' messages span several
    if len(detail) > MAX_DETAIL:
        detail = detail[:MAX_DETAIL - 3] + "..."
    return f"{tool} failed in {pipeline}: {type(exc).__name__}: {detail}"
