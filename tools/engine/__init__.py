"""One engine that loads a diffusers checkpoint once and serves every image tool the agent calls."""
from tools.engine.engine import Engine
from tools.engine.records import GenerationRecord, ModelIdentity

__all__ = ["Engine", "GenerationRecord", "ModelIdentity"]
