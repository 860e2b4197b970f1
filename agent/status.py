"""Every status a run or a batch item can be in, and what each means for the people waiting on it.

``Status`` is a ``StrEnum``: it is stored as its plain value in state, run.json, tree.json and batch
manifests (JSON-able), and compares equal to that string.
"""
from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    RUNNING = "running"  # the graph has work left
    WAITING = "waiting"  # a chat run waits for the person's answer
    ACCEPTED = "accepted"  # every requirement passes (or the person accepted)
    BUDGET = "budget"  # images, seconds, dollars or tokens spent without an accepted image
    PLATEAU = "plateau"  # no better image for several steps, and no budget asks for more
    EXHAUSTED = "exhausted"  # no untried action left at the node the agent stands on
    STOPPED = "stopped"  # the person stopped it
    CRITIC_FAILED = "critic_failed"  # the critic answered unusably too many times in a row
    CRITIC_UNAVAILABLE = "critic_unavailable"  # the critic could not be reached
    # Batch items only: the brief could not be read, or running it failed twice.
    INVALID = "invalid"
    FAILED = "failed"
    QUEUED = "queued"  # not started yet


# Ended without an accepted image, but nothing is wrong: more budget may still help.
STOPPED_SHORT = frozenset({Status.BUDGET, Status.PLATEAU, Status.EXHAUSTED, Status.STOPPED})
# The critic is the problem: the run is paused, and resumes once the critic is back.
CRITIC_TROUBLE = frozenset({Status.CRITIC_FAILED, Status.CRITIC_UNAVAILABLE})
# A run in one of these has finished its work for now (a batch does not run it again).
FINISHED = frozenset({Status.ACCEPTED}) | STOPPED_SHORT


def status_of(value: str | None) -> Status:
    """The Status a stored value names; unknown or missing values read as running."""
    try:
        return Status(value)
    except ValueError:
        return Status.RUNNING
