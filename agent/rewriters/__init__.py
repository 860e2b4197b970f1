"""Prompt rewriters behind one protocol: rule-based for shapes briefs, an LLM for free-form ones."""
from agent.rewriters.base import Rewrite, Rewriter
from agent.rewriters.registry import make_rewriter

__all__ = ["Rewrite", "Rewriter", "make_rewriter"]
