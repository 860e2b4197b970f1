"""The shapes world: a brief grammar, a renderer, an exact detector-critic and a tiny diffusion model.

Everything here runs on a CPU and every requirement of a brief can be checked exactly, so it is
sculpt's offline default, the substrate of the tests and the ground truth of the benchmark.
"""
from tools.shapes.brief import Brief, Group
from tools.shapes.parse import parse_brief

__all__ = ["Brief", "Group", "parse_brief"]
