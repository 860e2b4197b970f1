"""Where the traceback of a bug goes: one writer for every surface. Inside a run, the run folder's
``error.log`` (beside what the run made, for whoever resumes it); outside any run, the temporary
directory. People get one line that names the file; nothing is hidden."""
from __future__ import annotations

import tempfile
import time
import traceback
from pathlib import Path

ERROR_LOG = "error.log"


def log_bug(exc: BaseException, folder: str | Path | None = None) -> Path:
    """Append ``exc``'s traceback to ``folder``/error.log (or the temporary directory's
    sculpt-error.log) and return the file's path."""
    log = Path(folder) / ERROR_LOG if folder is not None else Path(tempfile.gettempdir()) / "sculpt-error.log"
    with log.open("a") as f:
        f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n{''.join(traceback.format_exception(exc))}")
    return log
