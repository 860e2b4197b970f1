"""Domain errors. Library code raises these; only the CLI turns them into messages and exit codes."""


class SculptError(Exception):
    """Base of every error sculpt raises on purpose."""


class InputError(SculptError, ValueError):
    """An argument, file or setting is wrong; the message says what and how to fix it."""


class ModelLoadError(SculptError):
    """A checkpoint could not be found or loaded."""


class UnsupportedTaskError(SculptError):
    """The loaded checkpoint cannot perform the requested task."""


class BriefError(InputError):
    """A brief could not be read by the shapes-world grammar."""


class LayoutError(SculptError):
    """No layout satisfies every constraint of a brief (for example, contradictory positions)."""


class ToolError(SculptError):
    """A tool call failed inside diffusers or torch (out of memory, a pipeline's own error), not on bad
    input. The message names the tool, the pipeline class and the original error on one line; the
    original is chained as ``__cause__``."""

    def __init__(self, message: str, tool: str | None = None, pipeline: str | None = None):
        super().__init__(message)
        self.tool = tool
        self.pipeline = pipeline


class Unreachable(SculptError):
    """A service sculpt depends on (a critic's server) cannot be reached. Nothing finished is lost:
    the same command, run again once it is back, continues."""


class InternalError(SculptError):
    """A bug in sculpt itself, not in what it was given. The message says where the traceback is."""


class Cancelled(SculptError):
    """A person stopped an image while it was being made (tools/engine/preview.py): nothing was made,
    and the run goes on from where it stood."""
