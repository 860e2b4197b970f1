"""What each image patch shows, as a training signal for the vision tower (not part of the model).

Yes/no answers are one bit per question about a whole image: a vision tower learning from them
alone takes thousands of steps to tell a triangle from a diamond, and longer to say where it is —
the shipped model said "no" to almost every position, count and relation question after 2,500 steps.
The exact detector's boxes say, for every one of the 8×8 patches, which colour and which shape
covers it; a linear head on the projected image features predicts both, and its loss is added to
the answers' during training. The head is thrown away at export: the shipped folder is the same
PaliGemma, only its image features carry what the questions need.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tools.shapes.detect import Detection
from tools.shapes.vocab import COLOURS, SHAPES

COLOUR_INDEX = {c: i + 1 for i, c in enumerate(COLOURS)}  # 0: no object (the background)
SHAPE_INDEX = {s: i + 1 for i, s in enumerate(SHAPES)}


def patch_labels(det: Detection, grid: int) -> np.ndarray:
    """(2, grid*grid) int64: the colour and the shape of the object under each patch's centre, 0 where
    none; where boxes overlap, the smallest box wins (it is the one more likely drawn on top)."""
    labels = np.zeros((2, grid, grid), np.int64)
    centres = (np.arange(grid) + 0.5) / grid
    for obj in sorted(det.objects, key=lambda o: -o.area):
        x0, y0, x1, y1 = obj.box
        cols = (centres >= x0) & (centres <= x1)
        rows = (centres >= y0) & (centres <= y1)
        inside = rows[:, None] & cols[None, :]
        labels[0][inside] = COLOUR_INDEX.get(obj.colour, 0)
        labels[1][inside] = SHAPE_INDEX.get(obj.shape, 0)
    return labels.reshape(2, grid * grid)


class PatchHead(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.colour = nn.Linear(width, len(COLOURS) + 1)
        self.shape = nn.Linear(width, len(SHAPES) + 1)

    def loss(self, feats: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """feats (N, P, width) projected image features; labels (N, 2, P)."""
        colour = F.cross_entropy(self.colour(feats).flatten(0, 1).float(), labels[:, 0].flatten())
        shape = F.cross_entropy(self.shape(feats).flatten(0, 1).float(), labels[:, 1].flatten())
        return colour + shape
