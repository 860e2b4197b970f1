"""``python -m evals.bench [options]``: the same command as ``sculpt bench``, on its own."""
from __future__ import annotations

import typer

from evals.bench.cli import register


def main() -> None:
    # The benchmark shows its own progress; library loading bars would bury it.
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    app = typer.Typer(add_completion=False, pretty_exceptions_show_locals=False)
    register(app)  # one command: typer runs it without a subcommand name
    app()


if __name__ == "__main__":
    main()
