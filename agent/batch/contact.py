"""summary.png: every brief's best image on one sheet, framed in its status colour, most urgent
first — for people who only glance at the report."""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tools.files import atomic_save

THUMB = 128
PAD = 10
CAPTION = 34
HEADER = 28
COLUMNS = 8
COLOURS = {"bad": (207, 34, 46), "short": (191, 135, 0), "running": (9, 105, 218), "good": (26, 127, 55),
           "idle": (140, 149, 159)}

# The report is rewritten after every brief; a night of hundreds would otherwise reopen every image
# each time. Best images are named by content, so a path with the same mtime is the same picture.
_THUMBS: dict[tuple[str, float], Image.Image] = {}


def _thumb(path: Path) -> Image.Image | None:
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError:
        return None
    if key not in _THUMBS:
        with Image.open(path) as im:
            im = im.convert("RGB")
            scale = THUMB / max(im.size)
            # Small images (the shapes world's 64 px) are scaled up with hard edges, large ones down.
            resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.LANCZOS
            _THUMBS[key] = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), resample)
    return _THUMBS[key]


def write_contact_sheet(out: Path, rows: list[dict], path: Path) -> None:
    """A grid of ``rows`` (report rows: key, status, tone, best_image, best_score) in their order."""
    cols = max(1, min(COLUMNS, len(rows)))
    lines = max(1, -(-len(rows) // cols))
    cell_w, cell_h = THUMB + 2 * PAD, THUMB + 2 * PAD + CAPTION
    sheet = Image.new("RGB", (cols * cell_w, HEADER + lines * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=12)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    draw.text((PAD, PAD), "sculpt batch · " + " · ".join(f"{k} {v}" for k, v in counts.items()),
              fill=(31, 35, 40), font=ImageFont.load_default(size=14))
    for n, r in enumerate(rows):
        x, y = (n % cols) * cell_w + PAD, HEADER + (n // cols) * cell_h + PAD
        colour = COLOURS.get(r.get("tone", "idle"), COLOURS["idle"])
        draw.rectangle([x - 4, y - 4, x + THUMB + 3, y + THUMB + 3], fill=colour)
        draw.rectangle([x, y, x + THUMB - 1, y + THUMB - 1], fill=(246, 248, 250))
        thumb = _thumb(out / r["best_image"]) if r.get("best_image") else None
        if thumb is not None:
            sheet.paste(thumb, (x + (THUMB - thumb.width) // 2, y + (THUMB - thumb.height) // 2))
        else:
            draw.text((x + THUMB // 2, y + THUMB // 2), "no image", fill=(140, 149, 159), font=font, anchor="mm")
        score = f" · {r['best_score']:.2f}" if r.get("best_score") is not None else ""
        draw.text((x, y + THUMB + 7), r["key"][:22], fill=(31, 35, 40), font=font)
        draw.text((x, y + THUMB + 21), f"{r['status']}{score}", fill=colour, font=font)
    atomic_save(path, lambda tmp: sheet.save(tmp, format="PNG"))
