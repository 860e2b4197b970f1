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
