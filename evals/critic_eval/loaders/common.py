"""Reading records from parquet, JSONL and JSON without holding a whole file in memory.

Parquet is read in small record batches of only the needed columns, so memory is bounded by one
row group (Hugging Face writes image datasets in groups of about a hundred rows), never by the file.
JSONL is read line by line. A JSON list is parsed whole: the published JSON files (HPD v2's
test.json, ImageRewardDB's per-folder metadata) are a few hundred kilobytes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from evals.critic_eval.errors import DatasetError
from evals.critic_eval.pairs import ImageRef

BATCH_ROWS = 16  # rows per parquet batch: a few megabytes of images at most
SUFFIXES = (".parquet", ".jsonl", ".json")


@dataclass(frozen=True)
class Record:
    """One row of a file: its fields and where it is, for error messages."""

    file: Path
    where: str  # "row 12" (parquet, 0-based), "line 13" (JSONL, 1-based), "item 12" (JSON list)
    fields: dict[str, Any]

    def error(self, message: str) -> DatasetError:
        return DatasetError(self.file, message, row=self.where)

    def require(self, name: str) -> Any:
        value = self.fields.get(name)
        if value is None:
            present = ", ".join(sorted(self.fields)) or "none"
            raise self.error(f"missing field {name!r} (fields present: {present})")
        return value

    def text(self, name: str) -> str:
        value = self.require(name)
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"field {name!r} must be a non-empty string, got {value!r:.80}")
        return value


def dataset_files(path: Path, split: str | None, suffixes: tuple[str, ...] = SUFFIXES) -> list[Path]:
    """The files a dataset path names: the file itself, or a folder's files of the given split.

    A file matches a split when a folder on its path is named after it (``test/0000.parquet``), or
    its name is the split (``test.json``), starts with ``split-`` (``test-00000-of-00004.parquet``)
    or ends with ``-split`` (``metadata-test.parquet``).
    """
    if not path.exists():
        raise DatasetError(path, "does not exist; pass --dataset a file or a folder of the dataset")
    if path.is_file():
        if path.suffix not in suffixes:
            raise DatasetError(path, f"unsupported file type {path.suffix!r}; expected {', '.join(suffixes)}")
        if split and not _matches_split(Path(path.name), split):
            raise DatasetError(path, f"--split {split} was given but this file is not named after that split; "
                               "pass the dataset folder with --split, or the split's file without it")
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in suffixes
                   and not any(part.startswith(".") for part in p.relative_to(path).parts))
    if split:
        files = [p for p in files if _matches_split(p.relative_to(path), split)]
    if not files:
        what = f"{' or '.join(suffixes)} files" + (f" for split {split!r}" if split else "")
        raise DatasetError(path, f"holds no {what}; check --dataset and --split")
    return files


def _matches_split(rel: Path, split: str) -> bool:
    stem = rel.name.split(".")[0]
    return (split in rel.parts[:-1] or stem == split or stem.startswith(split + "-")
            or stem.endswith("-" + split))


def read_records(file: Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> Iterator[Record]:
    """Stream a file's rows as :class:`Record`; parquet files must have every required column."""
    if file.suffix == ".parquet":
        yield from _parquet(file, columns, optional)
    elif file.suffix == ".jsonl":
        yield from _jsonl(file)
    elif file.suffix == ".json":
        yield from _json_list(file)
    else:
        raise DatasetError(file, f"unsupported file type {file.suffix!r}; expected {', '.join(SUFFIXES)}")


def _parquet(file: Path, columns: tuple[str, ...], optional: tuple[str, ...]) -> Iterator[Record]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(file, buffer_size=1 << 20, pre_buffer=False)
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(file, f"is not a readable parquet file ({exc})") from exc
    names = set(reader.schema_arrow.names)
    missing = [c for c in columns if c not in names]
    if missing:
        raise DatasetError(file, f"missing column(s) {', '.join(missing)}; columns present: "
                           f"{', '.join(sorted(names))}")
    wanted = list(columns) + [c for c in optional if c in names and c not in columns]
    row = 0
    try:
        for batch in reader.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
            for fields in batch.to_pylist():
                yield Record(file, f"row {row}", fields)
                row += 1
    except pa.ArrowException as exc:
        raise DatasetError(file, f"cannot read past row {row} ({exc})") from exc


def _jsonl(file: Path) -> Iterator[Record]:
    with file.open("r", encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                fields = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(file, f"is not valid JSON ({exc.msg} at column {exc.colno})",
                                   row=f"line {n}") from exc
            if not isinstance(fields, dict):
                raise DatasetError(file, "each line must be a JSON object", row=f"line {n}")
            yield Record(file, f"line {n}", fields)


def _json_list(file: Path) -> Iterator[Record]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(file, f"is not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, list):
        raise DatasetError(file, "must hold a JSON list of records (or use a .jsonl file)")
    for i, fields in enumerate(data):
        if not isinstance(fields, dict):
            raise DatasetError(file, "each item must be a JSON object", row=f"item {i}")
        yield Record(file, f"item {i}", fields)


def image_cell(record: Record, column: str, root: Path | None) -> ImageRef:
    """An image field as stored by the public datasets: raw bytes (Pick-a-Pic's ``jpg_0``), a
    Hugging Face image struct ``{"bytes", "path"}``, or a path relative to the image root."""
    value = record.require(column)
    source = f"{record.file}, {record.where}, column {column!r}"
    if isinstance(value, dict):
        if value.get("bytes"):
            return ImageRef(data=bytes(value["bytes"]), source=source)
        value = value.get("path")
        if not value:
            raise record.error(f"image field {column!r} has neither bytes nor a path")
    if isinstance(value, (bytes, bytearray)):
        if not value:
            raise record.error(f"image field {column!r} is empty")
        return ImageRef(data=bytes(value), source=source)
    if isinstance(value, str):
        return ImageRef(path=image_path(record, value, root), source=source)
    raise record.error(f"image field {column!r} must be bytes, an image struct or a path, "
                       f"got {type(value).__name__}")


def image_path(record: Record, rel: str, root: Path | None) -> Path:
    """Resolve an image path against the image root and check that the file is there."""
    p = Path(rel)
    if not p.is_absolute():
        p = (root or record.file.parent) / p
    if not p.is_file():
        hint = "" if root else "; pass --image-root if the images live elsewhere"
        raise record.error(f"image {rel!r} not found at {p}{hint}")
    return p


def as_float(record: Record, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise record.error(f"field {name!r} must be a number, got {value!r:.80}")
    return float(value)
