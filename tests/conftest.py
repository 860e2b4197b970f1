"""Shared fixtures: tiny checkpoints on disk, and the engine loaded from them."""
from __future__ import annotations

import os

import pytest
import torch

from tests.tiny_models import build_family, build_tiny_pipeline

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


@pytest.fixture(scope="session")
def tiny_family_dir(tmp_path_factory):
    """family name -> the folder of its tiny checkpoint (tests/tiny_models.py), each built once a session."""
    root = tmp_path_factory.mktemp("families")
    built: dict = {}

    def folder(family: str):
        if family not in built:
            built[family] = build_family(family, root / family)
        return built[family]

    return folder


@pytest.fixture(scope="session")
def shapes_model_dir():
    """The shipped shapes model (SCULPT_TEST_SHAPES_MODEL may point elsewhere, e.g. a fresh training run)."""
    from pathlib import Path

    from agent.components import shapes_model_path

    path = Path(os.environ.get("SCULPT_TEST_SHAPES_MODEL") or shapes_model_path())
    if not (path / "model_index.json").is_file():
        pytest.fail(f"the shapes model is missing at {path}; it ships in tools/shapes/weights")
    return path


@pytest.fixture(scope="session")
def shapes_engine(shapes_model_dir):
    """The shapes model with few denoising steps: the tests check the loop, not image quality."""
    from tools.engine import Engine

    return Engine.load(shapes_model_dir, steps=6)


@pytest.fixture(params=["memory", "sqlite"])
def checkpointer(request):
    """Graph tests run against both LangGraph checkpointers."""
    return request.param


@pytest.fixture(scope="session")
def tiny_vlm_dir(tmp_path_factory):
    """(family, chat_template=True) -> the folder of a tiny random-weight VLM (tests/tiny_vlms.py), each
    built once a session."""
    from tests.tiny_vlms import build_vlm

    root = tmp_path_factory.mktemp("vlms")
    built: dict = {}

    def folder(family: str, chat_template: bool = True):
        key = (family, chat_template)
        if key not in built:
            built[key] = build_vlm(family, root / f"{family}{'' if chat_template else '-plain'}", chat_template)
        return built[key]

    return folder


@pytest.fixture(scope="session")
def tiny_detector_dir(tmp_path_factory):
    """family -> the folder of a tiny random-weight open-vocabulary detector, each built once a session."""
    from tests.tiny_vlms import build_detector

    root = tmp_path_factory.mktemp("detectors")
    built: dict = {}

    def folder(family: str):
        if family not in built:
            built[family] = build_detector(family, root / family)
        return built[family]

    return folder
