"""tools/engine/preview.py: an image watched while it denoises, and stopped within one step."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.tiny_models import TINY_SIZE
from tools.engine.preview import StepHook
from tools.errors import Cancelled


def watching(every=None, share=None):
    seen = []
    return StepHook(on_preview=lambda image, step, steps: seen.append((image, step, steps)), every=every,
                    share=share), seen


@pytest.mark.parametrize("engine_name", ["tiny_engine", "shapes_engine"])
def test_previews_come_while_it_denoises_and_change_nothing(engine_name, request):
    """The tiny SD checkpoint's autoencoder is SD's (a linear preview); the shapes model's is its own
    (its decoder). Either way the finished image is the one made without anyone watching."""
    engine = request.getfixturevalue(engine_name)
    hook, seen = watching(every=2)
    watched = engine.txt2img("a red circle", seed=3, steps=6, on_step=hook)
    alone = engine.txt2img("a red circle", seed=3, steps=6)
    assert np.array_equal(np.asarray(watched.image), np.asarray(alone.image))
    assert [(step, steps) for _, step, steps in seen] == [(2, 6), (4, 6)]  # never the last: that is the image
    assert all(im.size == alone.image.size and im.mode == "RGB" for im, _, _ in seen)
    assert hook.previews == 2 and hook.seconds > 0
    assert len({im.tobytes() for im, _, _ in seen}) == 2  # each shows the latents as they are then


def test_about_six_previews_an_image_whatever_its_steps(tiny_engine):
    hook, seen = watching()
    tiny_engine.txt2img("a red circle", seed=0, steps=24, on_step=hook)
    assert [step for _, step, _ in seen] == [4, 8, 12, 16, 20]


def test_decoded_previews_keep_to_their_share_of_the_image_linear_ones_cost_next_to_nothing(tiny_engine,
                                                                                            shapes_engine):
    """The shapes model's previews are decoder passes, about as dear as a step: kept within a share of
    the image's time (here too small for any); SD's linear previews are always shown."""
    hook, seen = watching(every=1, share=1e-6)
    shapes_engine.txt2img("a red circle", seed=0, steps=8, on_step=hook)
    assert seen == [] and hook.seconds == 0
    hook, seen = watching(every=1, share=1e-6)
    tiny_engine.txt2img("a red circle", seed=0, steps=8, on_step=hook)
    assert [step for _, step, _ in seen] == [1, 2, 3, 4, 5, 6, 7]


def test_a_cancel_stops_the_image_within_one_step(tiny_engine):
    steps_run = []

    def cancel_after_two(image, step, steps):
        steps_run.append(step)
        if step == 2:
            hook.cancel()

    hook = StepHook(on_preview=cancel_after_two, every=1)
    with pytest.raises(Cancelled):
        tiny_engine.txt2img("a red circle", seed=0, steps=10, on_step=hook)
    assert steps_run == [1, 2]  # the step after the cancel never finished
    photo = Image.new("RGB", (TINY_SIZE, TINY_SIZE), (200, 40, 40))
    with pytest.raises(Cancelled):  # a cancelled hook stops every tool at its first step
        tiny_engine.variations(photo, "a red circle", n=2, strength=0.5, steps=10, on_step=hook)
    hook.reset()  # ready for the next image
    assert not hook.cancelled
    assert tiny_engine.img2img(photo, "a red circle", strength=0.5, steps=10, on_step=StepHook()).image.size == photo.size
