"""What can end a night of briefs early, besides the critic (agent.critics.base.CriticUnavailable)."""
from __future__ import annotations

from tools.errors import SculptError


class WorkersLost(SculptError):
    """Every Ray worker is gone: Ray's node died (its raylet or the machine), or each worker failed to
    come back. Finished briefs are kept; running the same command again resumes the rest."""
