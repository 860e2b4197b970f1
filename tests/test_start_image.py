"""Starting from a person's own image: it becomes the root of the tree, is critiqued like any image,
and the first step is an edit of it, never a txt2img."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from agent.cli import sculpt_app
from tools.shapes.parse import parse_brief
from tools.shapes.render import render

app = sculpt_app()
BRIEF = "a red circle to the left of a blue square, yellow background"


def test_a_person_s_image_is_the_root_and_the_first_step_edits_it(tmp_path, shapes_model_dir):
    # Their picture has the circle and square the wrong way round: the relation fails.
    image, _ = render(parse_brief("a red circle to the right of a blue square, yellow background"),
                      np.random.default_rng(3), size=128)
    photo = tmp_path / "mine.png"
    image.save(photo)
    r = CliRunner().invoke(app, ["run", BRIEF, "--image", str(photo), "--model", str(shapes_model_dir), "--steps", "6",
                                 "--budget", "3", "--out", str(tmp_path / "runs"), "-q"])
    assert r.exit_code in (0, 3), r.output
    run_dir = next((tmp_path / "runs").iterdir())
    tree = json.loads((run_dir / "tree.json").read_text())
    root = tree["nodes"]["root"]
    assert root["image"] and Image.open(run_dir / root["image"]).size == (64, 64)  # brought to the model's size
    assert "g0.left_of.g1" in root["critique"]["failed"]
    first = next(n for n in tree["nodes"].values() if n.get("seq") == 1)
    assert first["parent"] == "root" and first["action"]["kind"] != "txt2img"
    meta = json.loads((run_dir / root["image"]).with_suffix(".json").read_text())["records"][0]
    assert meta["source"] == "the person's image" and meta["original_size"] == [128, 128]


def test_an_unreadable_start_image_is_refused_before_anything_is_made(tmp_path, shapes_model_dir):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    r = CliRunner().invoke(app, ["run", BRIEF, "--image", str(bad), "--model", str(shapes_model_dir),
                                 "--out", str(tmp_path / "runs"), "-q"])
    assert r.exit_code == 2 and "is not a readable image" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())
    r = CliRunner().invoke(app, ["run", BRIEF, "--image", str(tmp_path / "none.png"), "--out", str(tmp_path / "runs")])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_a_photo_stored_sideways_is_turned_the_way_its_exif_says(tmp_path):
    from agent.start_image import import_start_image
    from agent.spec import RunSpec
    from agent.store import RunStore

    wide = Image.new("RGB", (64, 32), (255, 0, 0))
    wide.paste((0, 0, 255), (0, 0, 16, 32))  # blue on the left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to show
    path = tmp_path / "phone.jpg"
    wide.save(path, exif=exif, quality=95)

    class Engine:
        native_size = (64, 64)

    spec = RunSpec(brief="a red circle to the left of a blue square, yellow background")
    store = RunStore.create(tmp_path / "runs", "r1", {"spec": spec.to_json()})
    stored = Image.open(store.root / import_start_image(store, path, Engine()))
    assert stored.size == (32, 64)  # shown upright: tall, as the person sees it
    top = np.asarray(stored.convert("RGB"))[:8].mean(axis=(0, 1))
    assert top[2] > 200 and top[0] < 60  # the stored left edge is now the top
