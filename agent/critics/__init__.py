"""Critics behind one protocol, built from spec strings."""
from agent.critics.base import Critic, CriticError, CriticReplyError, CriticUnavailable, Plan
from agent.critics.registry import make_critic, register

__all__ = ["Critic", "CriticError", "CriticReplyError", "CriticUnavailable", "Plan", "make_critic", "register"]
