"""Find the objects in a shapes-world image: colour, shape, size and bounding box.

Built to read the model's blurred, tinted outputs, not only clean renders: pixels are matched to
the palette in Lab space (perceptual distances), thin rings of in-between colour at object edges
are removed by a morphological opening, and shapes are recognised by overlap with rasterised
templates rather than by corner counting.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from tools.shapes.vocab import COLOURS, SHAPES, SIZE_THRESHOLD, cell_of

MIN_AREA = 0.004  # components smaller than this share of the image are noise
FOREGROUND_DISTANCE = 22.0  # Lab distance from the background colour that makes a pixel foreground


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8/float sRGB -> CIE Lab (D65)."""
    c = np.asarray(rgb, dtype=np.float32) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124564, 0.3575761, 0.1804375],
                  [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]], dtype=np.float32)
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
                    axis=-1)


_NAMES = list(COLOURS)
_PALETTE_LAB = srgb_to_lab(np.array([COLOURS[n] for n in _NAMES], dtype=np.float32))


@dataclass(frozen=True)
class DetectedObject:
    colour: str
    shape: str
    size: str
    box: tuple[float, float, float, float]  # normalised x0, y0, x1, y1
    area: float  # share of the image
    shape_score: float  # IoU with the best template, 0..1

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)

    @property
    def side(self) -> float:
        return max(self.box[2] - self.box[0], self.box[3] - self.box[1])

    @property
    def cell(self) -> str:
        return cell_of(*self.center)

    def describe(self) -> str:
        x, y = self.center
        return f"a {self.size} {self.colour} {self.shape} at {self.cell} (centre {x:.2f}, {y:.2f})"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Detection:
    background: str
    objects: tuple[DetectedObject, ...]

    def to_dict(self) -> dict:
        return {"background": self.background, "objects": [o.to_dict() for o in self.objects]}

    def describe(self) -> str:
        things = "; ".join(o.describe() for o in self.objects) or "no objects"
        return f"{self.background} background; {things}"


# Share of its bounding box each shape fills, and where its centroid sits down the box.
_FILL = {"circle": np.pi / 4, "square": 1.0, "triangle": 0.5, "diamond": 0.5}
_BLURS = (0.0, 0.8, 1.4, 2.0)  # Gaussian sigmas (pixels at 64 px) tried for each template
_CENTROID_Y = {"circle": 0.5, "square": 0.5, "triangle": 2 / 3, "diamond": 0.5}


def _template(shape: str, box: tuple[float, float, float, float], shape_hw: tuple[int, int]) -> np.ndarray:
    """A shape drawn at a sub-pixel box on a patch, anti-aliased like the renderer, as 0..1."""
    from tools.shapes.render import draw_shape

    ss = 4
    h, w = shape_hw
    img = Image.new("L", (w * ss, h * ss), 0)
    draw_shape(ImageDraw.Draw(img), shape, tuple(v * ss for v in box), 255)
    return np.asarray(img.resize((w, h), Image.Resampling.BOX), dtype=np.float32) / 255


def _fit_shape(soft: np.ndarray, scale: int) -> tuple[str, float, tuple[float, float, float, float]]:
    """The shape whose template, placed by the mask's mass and centroid, best explains the mask.

    Mass and centroid survive blur, so the box is recovered to a fraction of a pixel even when the
    model's edges are soft; the thresholded extent is not (blur eats thin tips).
    """
    mass = float(soft.sum())
    ys, xs = np.indices(soft.shape)
    mx, my = float((xs * soft).sum() / mass) + 0.5, float((ys * soft).sum() / mass) + 0.5
    best = ("square", -1.0, (0.0, 0.0, 0.0, 0.0))
    for shape in SHAPES:
        side = np.sqrt(mass / _FILL[shape])
        x0, y0 = mx - side / 2, my - side * _CENTROID_Y[shape]
        box = (x0, y0, x0 + side, y0 + side)
        sharp = _template(shape, box, soft.shape)
        # Blur is a nuisance: compare with the template blurred as much as the image seems to be,
        # else a blurred diamond matches a sharp circle better than a sharp diamond.
        for sigma in _BLURS:
            t = ndimage.gaussian_filter(sharp, sigma * scale) if sigma else sharp
            iou = float(np.minimum(soft, t).sum() / max(np.maximum(soft, t).sum(), 1e-6))
            if iou > best[1]:
                best = (shape, iou, box)
    return best


def _nearest(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.linalg.norm(lab[..., None, :] - _PALETTE_LAB, axis=-1)
    return d.argmin(-1), d.min(-1)


def detect(image: Image.Image) -> Detection:
    """Read the background colour and every object of a shapes-world image."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    h, w, _ = rgb.shape
    lab = srgb_to_lab(rgb)
    labels, _ = _nearest(lab)
    border = np.concatenate([labels[:2].ravel(), labels[-2:].ravel(), labels[:, :2].ravel(),
                             labels[:, -2:].ravel()])
    bg_index = int(np.bincount(border, minlength=len(_NAMES)).argmax())
    # The actual background tint (the model's yellow is rarely the palette's yellow).
    frame = np.zeros((h, w), bool)
    frame[:2], frame[-2:], frame[:, :2], frame[:, -2:] = True, True, True, True
    bg_lab = np.median(lab[frame & (labels == bg_index)], axis=0)
    dist_bg = np.linalg.norm(lab - bg_lab, axis=-1)
    foreground = dist_bg > FOREGROUND_DISTANCE

    # Label foreground pixels with the nearest palette colour other than the background's.
    d = np.linalg.norm(lab[..., None, :] - _PALETTE_LAB, axis=-1)
    d[..., bg_index] = np.inf
    fg_labels = d.argmin(-1)

    scale = max(1, round(min(h, w) / 64))
    structure = np.ones((2 * scale + 1, 2 * scale + 1), bool)
    min_pixels = MIN_AREA * h * w
    found: list[DetectedObject] = []
    for ci, name in enumerate(_NAMES):
        if ci == bg_index:
            continue
        core = ndimage.binary_opening(foreground & (fg_labels == ci), structure=structure)
        comps, n = ndimage.label(core)
        for k in range(1, n + 1):
            comp = comps == k
            if comp.sum() < min_pixels:
                continue
            found.append(_measure(comp, lab, bg_lab, ci, name, scale))
    found = _drop_fragments(found)
    found.sort(key=lambda o: (o.box[1], o.box[0]))
    return Detection(background=_NAMES[bg_index], objects=tuple(found))


def _measure(comp: np.ndarray, lab: np.ndarray, bg_lab: np.ndarray, ci: int, name: str,
             scale: int) -> DetectedObject:
    """Grow the core back to the object's full extent, then fit its shape and box."""
    h, w = comp.shape
    grown = ndimage.binary_dilation(comp, iterations=3 * scale)
    ys, xs = np.nonzero(grown)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    patch = lab[y0:y1, x0:x1]
    obj_lab = np.median(lab[comp], axis=0)  # the object's colour as drawn, not the palette's
    # Soft membership: where a pixel sits on the line from the background colour to the object
    # colour (anti-aliased and blurred edges are mixtures of the two). Pixels off that line belong
    # to something else, such as a neighbouring object, and count for nothing.
    axis = obj_lab - bg_lab
    rel = patch - bg_lab
    t = (rel @ axis) / max(float(axis @ axis), 1e-6)
    off_line = np.linalg.norm(rel - t[..., None] * axis, axis=-1)
    soft = np.clip(t, 0, 1) * (off_line < 0.5 * np.linalg.norm(axis) + 8) * grown[y0:y1, x0:x1]
    soft[soft < 0.1] = 0.0  # colour noise on the background is not object mass
    shape, score, (bx0, by0, bx1, by1) = _fit_shape(soft, scale)
    box = ((x0 + bx0) / w, (y0 + by0) / h, (x0 + bx1) / w, (y0 + by1) / h)
    box = tuple(round(float(np.clip(v, 0, 1)), 4) for v in box)
    side = max(box[2] - box[0], box[3] - box[1])
    return DetectedObject(colour=name, shape=shape, size="large" if side > SIZE_THRESHOLD else "small",
                          box=box, area=round(float(soft.sum()) / (h * w), 5),
                          shape_score=round(score, 3))


def _drop_fragments(objs: list[DetectedObject]) -> list[DetectedObject]:
    """Remove pieces that sit inside a much larger object (a patch of off-colour noise in it)."""
    keep = []
    for o in objs:
        inside = False
        for p in objs:
            if p is o or p.area < 3 * o.area:
                continue
            cx, cy = o.center
            if p.box[0] <= cx <= p.box[2] and p.box[1] <= cy <= p.box[3]:
                inside = True
                break
        if not inside:
            keep.append(o)
    return keep
