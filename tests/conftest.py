"""Shared fixtures: tiny checkpoints on disk, and the engine loaded from them."""
from __future__ import annotations

import os

import pytest
import torch

from tests.tiny_models import build_tiny_pipeline

# Two cores: one intra-op thread per test process keeps timings stable and leaves room for others.
torch.set_num_threads(int(os.environ.get("SCULPT_TEST_THREADS", "2")))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return build_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="session")
def tiny_inpaint_model_dir(tmp_path_factory):
    return build_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny-sd-inpaint", inpainting=True)


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_dir):
    from tools.engine import Engine

    return Engine.load(tiny_model_dir, steps=4, guidance=3.0)
