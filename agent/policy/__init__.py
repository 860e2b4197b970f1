"""The decision rules, one question per module, each a pure function of state and critique:

- :mod:`agent.policy.next_action` — what to do next (``next_move``);
- :mod:`agent.policy.strength` — how strong an edit is;
- :mod:`agent.policy.outcome` — did it help or drift (``judge``);
- :mod:`agent.policy.stopping` — when to stop;
- :mod:`agent.policy.tabu` — what may not be tried again where;
- :mod:`agent.policy.config` — the thresholds they share, and the budget.
The graph's nodes only gather what these need (critiques, pixels) and apply what they return.
"""
from agent.policy.config import Budget, PolicyConfig
from agent.policy.next_action import Decision, next_move
from agent.policy.outcome import Judgement, judge

__all__ = ["Budget", "Decision", "Judgement", "PolicyConfig", "judge", "next_move"]
