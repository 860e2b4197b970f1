"""Dataset loaders: labels, ties, skips, ranked pairs, seeded shuffles, clear errors, flat memory."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from evals.critic_eval.errors import CriticEvalError, DatasetError
from evals.critic_eval.loaders import load_pairs
from tools.errors import InputError


def png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format="PNG")
    return buf.getvalue()


RED, GREEN, BLUE, GREY = png((255, 0, 0)), png((0, 255, 0)), png((0, 0, 255)), png((128, 128, 128))


def save_png(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path.name


def write_parquet(path: Path, rows: list[dict], row_group_size: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)
    return path


def pickapic_row(caption: str, a: bytes, b: bytes, l0: float, l1: float, has_label: bool = True) -> dict:
    return {"caption": caption, "jpg_0": a, "jpg_1": b, "label_0": l0, "label_1": l1, "has_label": has_label}


# -- Pick-a-Pic ---------------------------------------------------------------------------------------

def test_pickapic_labels_ties_and_skipped_rows(tmp_path):
    f = write_parquet(tmp_path / "test-0.parquet", [
        pickapic_row("p1", RED, GREEN, 1.0, 0.0),
        pickapic_row("p2", GREEN, BLUE, 0.0, 1.0),
        pickapic_row("p3", BLUE, GREY, 0.0, 0.0, has_label=False),
        pickapic_row("p3", RED, BLUE, 0.5, 0.5),
    ])
    stats = Counter()
    pairs = list(load_pairs(f, "pickapic", stats=stats))
    assert [p.human for p in pairs] == ["a", "b", "tie"]
    assert [p.prompt for p in pairs] == ["p1", "p2", "p3"]
    assert [p.group for p in pairs] == ["p1", "p2", "p3"]
    assert (pairs[0].a.read_bytes(), pairs[0].b.read_bytes()) == (RED, GREEN)
    assert pairs[2].source == "test-0.parquet row 3"
    assert stats["skipped: has_label false"] == 1


def test_pickapic_bad_label_names_file_and_row(tmp_path):
    f = write_parquet(tmp_path / "x.parquet", [pickapic_row("p1", RED, GREEN, 1.0, 0.0),
                                               pickapic_row("p2", RED, GREEN, 0.7, 0.3)])
    with pytest.raises(DatasetError) as err:
        list(load_pairs(f, "pickapic"))
    assert isinstance(err.value, InputError)
    assert "x.parquet, row 1" in str(err.value) and "(0.7, 0.3)" in str(err.value)


def test_pickapic_missing_column_lists_what_is_there(tmp_path):
    f = write_parquet(tmp_path / "x.parquet", [{"caption": "p", "jpg_0": RED, "jpg_1": GREEN,
                                                "label_0": 1.0, "label_1": 0.0}])
    with pytest.raises(DatasetError, match=r"missing column\(s\) has_label; columns present: caption, jpg_0"):
        list(load_pairs(f, "pickapic"))


def test_limit_stops_reading(tmp_path):
    f = write_parquet(tmp_path / "x.parquet", [pickapic_row(f"p{i}", RED, GREEN, 1.0, 0.0) for i in range(50)])
    assert len(list(load_pairs(f, "pickapic", limit=7))) == 7


# -- HPD v2 -------------------------------------------------------------------------------------------

def test_hpd_pairs_from_averaged_ranks_with_annotator_margins(tmp_path):
    names = [save_png(tmp_path / "test" / f"{i}.png", data) for i, data in enumerate((RED, GREEN, BLUE))]
    (tmp_path / "test.json").write_text(json.dumps([{
        "prompt": "a cat", "image_path": names, "rank": [2, 1, 2],
        "raw_annotations": [{"rank": [2, 1, 3], "user_hash": "u1"}, {"rank": [3, 1, 2], "user_hash": "u2"}]}]))
    pairs = list(load_pairs(tmp_path / "test.json", "hpdv2"))
    # Pairs (0,1), (0,2), (1,2); lower rank is better; equal averaged ranks are a tie.
    assert [p.human for p in pairs] == ["b", "tie", "a"]
    # margins are rank(b) - rank(a) per annotator: positive when a is better.
    assert [p.margins for p in pairs] == [(-1.0, -2.0), (1.0, -1.0), (2.0, 1.0)]
    assert pairs[0].a.path == tmp_path / "test" / "0.png"
    assert {p.group for p in pairs} == {"a cat"}


def test_hpd_missing_image_names_item_and_path(tmp_path):
    save_png(tmp_path / "0.png", RED)
    (tmp_path / "test.json").write_text(json.dumps([
        {"prompt": "a", "image_path": ["0.png", "0.png"], "rank": [1, 2]},
        {"prompt": "b", "image_path": ["0.png", "gone.png"], "rank": [1, 2]}]))
    with pytest.raises(DatasetError, match=r"test\.json, item 1: image 'gone.png' not found"):
        list(load_pairs(tmp_path / "test.json", "hpdv2"))


def test_hpd_rank_length_must_match(tmp_path):
    save_png(tmp_path / "0.png", RED)
    (tmp_path / "test.json").write_text(json.dumps([{"prompt": "a", "image_path": ["0.png", "0.png"],
                                                     "rank": [1]}]))
    with pytest.raises(DatasetError, match=r"item 0: field 'rank' must be a list of 2 numbers"):
        list(load_pairs(tmp_path / "test.json", "hpdv2"))


# -- ImageRewardDB -----------------------------------------------------------------------------------

def test_imagereward_groups_consecutive_records_with_tied_ranks(tmp_path):
    rows = []
    for pid, prompt, ranks in (("001", "p1", [1, 2, 2]), ("002", "p2", [1, 1]), ("003", "p3", [1])):
        for k, r in enumerate(ranks):
            rel = save_png(tmp_path / "images" / f"{pid}_{k}.png", png((k * 60, int(pid) * 40, 0)))
            rows.append({"image_path": f"images/{rel}", "prompt_id": pid, "prompt": prompt, "rank": r,
                         "overall_rating": 5})
    f = tmp_path / "metadata-test.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    stats = Counter()
    pairs = list(load_pairs(f, "imagereward", stats=stats))
    assert [(p.group, p.human) for p in pairs] == [("001", "a"), ("001", "a"), ("001", "tie"), ("002", "tie")]
    assert stats["skipped: prompts with one image"] == 1


def test_imagereward_parquet_reads_image_structs(tmp_path):
    f = write_parquet(tmp_path / "train-0.parquet", [
        {"image": {"bytes": RED, "path": "r.png"}, "prompt_id": "1", "prompt": "p", "rank": 2},
        {"image": {"bytes": GREEN, "path": "g.png"}, "prompt_id": "1", "prompt": "p", "rank": 1}])
    (pair,) = load_pairs(f, "imagereward")
    assert pair.human == "b" and pair.a.read_bytes() == RED and pair.b.read_bytes() == GREEN


def test_imagereward_prompt_records_must_be_consecutive(tmp_path):
    save_png(tmp_path / "x.png", RED)
    rows = [{"image_path": "x.png", "prompt_id": pid, "prompt": "p", "rank": 1} for pid in ("1", "1", "2", "1")]
    f = tmp_path / "m.json"
    f.write_text(json.dumps(rows))
    with pytest.raises(DatasetError, match=r"m\.json, item 3: prompt_id '1' appears again"):
        list(load_pairs(f, "imagereward"))


# -- GenAI-Bench ------------------------------------------------------------------------------------

def test_genai_bench_votes(tmp_path):
    rows = [{"prompt": f"p{i}", "left_image": {"bytes": RED, "path": None},
             "right_image": {"bytes": GREEN, "path": None}, "vote_type": v}
            for i, v in enumerate(("leftvote", "rightvote", "tievote", "bothbad_vote"))]
    write_parquet(tmp_path / "image_generation" / "test" / "0000.parquet", rows)
    stats = Counter()
    pairs = list(load_pairs(tmp_path, "genai-bench", split="test", stats=stats))
    assert [p.human for p in pairs] == ["a", "b", "tie", "tie"]
    assert stats["votes: bothbad_vote"] == 1 and stats["votes: tievote"] == 1


def test_genai_bench_unknown_vote(tmp_path):
    f = write_parquet(tmp_path / "g.parquet", [{"prompt": "p", "left_image": RED, "right_image": GREEN,
                                                "vote_type": "leftbetter"}])
    with pytest.raises(DatasetError, match=r"g\.parquet, row 0: vote_type 'leftbetter' is not one of leftvote"):
        list(load_pairs(f, "genai-bench"))


# -- MJ-Bench --------------------------------------------------------------------------------------

def test_mjbench_presentation_is_shuffled_with_a_seed(tmp_path):
    rows = [{"caption": f"c{i}", "image0": {"bytes": png((i, 0, 0)), "path": None},
             "image1": {"bytes": png((0, i, 0)), "path": None}, "label": 0} for i in range(40)]
    f = write_parquet(tmp_path / "mj.parquet", rows)
    first = list(load_pairs(f, "mjbench", seed=1))
    again = list(load_pairs(f, "mjbench", seed=1))
    other = list(load_pairs(f, "mjbench", seed=2))
    sides = [p.human for p in first]
    assert sides == [p.human for p in again]
    assert sides != [p.human for p in other]
    assert 5 < sides.count("a") < 35  # both sides occur; all on one side has odds 2**-39
    for i, p in enumerate(first):  # the preferred image is always the published image0
        preferred = p.a if p.human == "a" else p.b
        assert preferred.read_bytes() == png((i, 0, 0))


def test_mjbench_label_must_be_an_index(tmp_path):
    f = write_parquet(tmp_path / "mj.parquet", [{"caption": "c", "image0": RED, "image1": GREEN, "label": 2}])
    with pytest.raises(DatasetError, match=r"row 0: label must be 0 \(image0 preferred\) or 1"):
        list(load_pairs(f, "mjbench"))


# -- picks.jsonl ------------------------------------------------------------------------------------

def picks_line(chosen: str, rejected: list[str], brief: str = "a red circle") -> str:
    return json.dumps({"time": "2025-01-01T00:00:00+00:00", "run_id": "r1", "brief": brief, "chosen": chosen,
                       "rejected": rejected, "critic": "scene", "critic_preference": None,
                       "node_ids": {"chosen": "n1", "rejected": ["n2"]}}) + "\n"


def test_picks_k_rejected_give_k_pairs(tmp_path):
    for name, data in (("c", RED), ("r1", GREEN), ("r2", BLUE)):
        save_png(tmp_path / "images" / f"{name}.png", data)
    f = tmp_path / "picks.jsonl"
    f.write_text(picks_line("images/c.png", ["images/r1.png", "images/r2.png"]))
    pairs = list(load_pairs(f, "picks", seed=3))
    assert len(pairs) == 2
    for p, loser in zip(pairs, (GREEN, BLUE)):
        chosen, rejected = (p.a, p.b) if p.human == "a" else (p.b, p.a)
        assert chosen.read_bytes() == RED and rejected.read_bytes() == loser


def test_picks_errors_name_the_line(tmp_path):
    save_png(tmp_path / "images" / "c.png", RED)
    f = tmp_path / "picks.jsonl"
    f.write_text(picks_line("images/c.png", ["images/c2.png"]))
    with pytest.raises(DatasetError, match=r"picks\.jsonl, line 1: image 'images/c2.png' not found"):
        list(load_pairs(f, "picks"))
    f.write_text(picks_line("images/c.png", ["images/c.png"]) + "{not json\n")
    with pytest.raises(DatasetError, match=r"line 1: the chosen image 'images/c.png' is also listed as rejected"):
        list(load_pairs(f, "picks"))
    f.write_text("\n{not json\n")
    with pytest.raises(DatasetError, match=r"picks\.jsonl, line 2: is not valid JSON"):
        list(load_pairs(f, "picks"))


def test_picks_folder_reads_every_runs_picks_only(tmp_path):
    for run in ("r1", "r2"):
        save_png(tmp_path / run / "images" / "c.png", RED)
        save_png(tmp_path / run / "images" / "x.png", GREEN)
        (tmp_path / run / "picks.jsonl").write_text(picks_line("images/c.png", ["images/x.png"]))
        (tmp_path / run / "events.jsonl").write_text('{"step": 1}\n')
    assert len(list(load_pairs(tmp_path, "picks"))) == 2


# -- files, splits, formats --------------------------------------------------------------------------

def test_split_selects_files_in_a_folder(tmp_path):
    write_parquet(tmp_path / "data" / "test-00000-of-00001.parquet", [pickapic_row("t", RED, GREEN, 1.0, 0.0)])
    write_parquet(tmp_path / "data" / "validation-00000-of-00001.parquet",
                  [pickapic_row("v", RED, GREEN, 1.0, 0.0), pickapic_row("v2", RED, GREEN, 1.0, 0.0)])
    assert [p.prompt for p in load_pairs(tmp_path, "pickapic", split="test")] == ["t"]
    assert len(list(load_pairs(tmp_path, "pickapic"))) == 3
    with pytest.raises(DatasetError, match="holds no .* files for split 'train'"):
        list(load_pairs(tmp_path, "pickapic", split="train"))
    with pytest.raises(DatasetError, match="--split validation was given but this file"):
        list(load_pairs(tmp_path / "data" / "test-00000-of-00001.parquet", "pickapic", split="validation"))


def test_unknown_format_and_missing_path(tmp_path):
    with pytest.raises(CriticEvalError, match="unknown dataset format 'pick'; use one of: pickapic"):
        load_pairs(tmp_path, "pick")
    with pytest.raises(DatasetError, match="does not exist"):
        list(load_pairs(tmp_path / "nope.parquet", "pickapic"))


def test_undecodable_image_bytes_name_the_row(tmp_path):
    f = write_parquet(tmp_path / "x.parquet", [pickapic_row("p", b"not an image", GREEN, 1.0, 0.0)])
    (pair,) = load_pairs(f, "pickapic")
    with pytest.raises(DatasetError, match=r"x\.parquet, row 0, column 'jpg_0'.*cannot decode"):
        pair.images()


# -- streaming ------------------------------------------------------------------------------------

_READER = textwrap.dedent("""
    import json, resource, sys, tracemalloc
    import pyarrow as pa
    from evals.critic_eval.loaders import load_pairs
    def rss_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    it = load_pairs(sys.argv[1], "pickapic")
    first = next(it)  # imports and reader set-up happen before the baseline
    base = rss_mb()
    tracemalloc.start()
    n, size = 1, len(first.a.read_bytes()) + len(first.b.read_bytes())
    for pair in it:
        n += 1
        size += len(pair.a.read_bytes()) + len(pair.b.read_bytes())
    _, py_peak = tracemalloc.get_traced_memory()
    print(json.dumps({"pairs": n, "bytes": size, "rss_growth_mb": rss_mb() - base,
                      "python_peak_mb": py_peak / 2**20,
                      "arrow_peak_mb": pa.default_memory_pool().max_memory() / 2**20}))
""")


def test_parquet_streams_with_flat_memory(tmp_path):
    rows, images = 4000, 2
    f = tmp_path / "big.parquet"
    # Random bytes do not compress, so the file is as large as the images in it (about 96 MB).
    writer = None
    for start in range(0, rows, 500):
        chunk = pa.Table.from_pylist([pickapic_row(f"p{i}", os.urandom(12_000), os.urandom(12_000), 1.0, 0.0)
                                      for i in range(start, start + 500)])
        writer = writer or pq.ParquetWriter(f, chunk.schema)
        writer.write_table(chunk, row_group_size=100)  # Hugging Face's row groups for image data
    writer.close()
    file_mb = f.stat().st_size / 2**20
    out = subprocess.run([sys.executable, "-c", _READER, str(f)], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    m = json.loads(out.stdout)
    assert m["pairs"] == rows and m["bytes"] == rows * images * 12_000
    assert file_mb > 90
    assert m["arrow_peak_mb"] < file_mb / 8, m
    assert m["python_peak_mb"] < file_mb / 20, m
    assert m["rss_growth_mb"] < file_mb / 2, m
