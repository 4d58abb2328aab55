"""Reading an operator file into text columns, one row per data line, with structural errors.

CSV (optionally gzip) and JSON Lines; UTF-8 with or without BOM; LF or CRLF;
fields may be quoted (delimiters and doubled quotes inside quotes).  A line
break inside a quoted field is not supported: such a record is reported as a
malformed line.  Every value is read as text; typing happens in ``parse``.
Line numbers are physical: the CSV header is line 1.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from clickledger.ingest.batch.limits import ImportLimits

BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 8192
LINE = "__line"
ERROR_SCHEMA = {"line": pl.Int64, "column": pl.String, "code": pl.String, "message": pl.String}


class FileError(ValueError):
    """The whole file is unusable: too big, not text, wrong kind.  Nothing is imported."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class RawTable:
    """Every data line's values as text, keyed by the file's own header names."""

    frame: pl.DataFrame  # one String column per header, plus ``__line``
    headers: list[str]
    errors: pl.DataFrame  # structural errors: malformed lines
    data_lines: int  # non-blank data lines, good or bad


def empty_errors() -> pl.DataFrame:
    return pl.DataFrame(schema=ERROR_SCHEMA)


def load_bytes(path: Path, limits: ImportLimits) -> bytes:
    """The file's bytes, gunzipped when gzip, BOM removed; refused beyond the size limits."""
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise FileError(
            "file_too_large", f"the file is {size} bytes; the limit is {limits.max_file_bytes}"
        )
    data = path.read_bytes()
    return unpack(data, limits)


def unpack(data: bytes, limits: ImportLimits) -> bytes:
    """Gunzip (bounded) and strip a UTF-8 BOM; refuse binary or non-UTF-8 content."""
    if len(data) > limits.max_file_bytes:
        raise FileError(
            "file_too_large", f"the file is {len(data)} bytes; the limit is {limits.max_file_bytes}"
        )
    if data.startswith(GZIP_MAGIC):
        data = _gunzip(data, limits.max_unpacked_bytes)
    if data.startswith(BOM):
        data = data[len(BOM):]
    if b"\x00" in data[:SNIFF_BYTES]:
        raise FileError("not_text", "the file is binary, not CSV or JSON Lines text")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileError("not_utf8", f"line {line} is not valid UTF-8") from exc
    return data


def _gunzip(data: bytes, max_unpacked_bytes: int) -> bytes:
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            while chunk := stream.read(1 << 20):
                out.write(chunk)
                if out.tell() > max_unpacked_bytes:
                    raise FileError(
                        "file_too_large",
                        f"the file unpacks to more than {max_unpacked_bytes} bytes",
                    )
    except (OSError, EOFError) as exc:
        raise FileError("bad_gzip", f"the gzip data is damaged: {exc}") from exc
    return out.getvalue()


def is_json_lines(data: bytes, file_name: str) -> bool:
    name = file_name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return True
    if name.endswith((".csv", ".txt", ".tsv")):
        return False
    return data.lstrip()[:1] == b"{"


def _lines(data: bytes) -> pl.DataFrame:
    """Every physical line (CR stripped) with its 1-based number."""
    text = data.decode("utf-8")
    series = pl.Series("raw", [text]).str.split("\n").explode()
    frame = series.to_frame().with_row_index(LINE, offset=1).with_columns(
        pl.col(LINE).cast(pl.Int64), pl.col("raw").str.strip_suffix("\r")
    )
    if text.endswith("\n"):
        frame = frame.head(frame.height - 1)
    return frame


def _error_rows(frame: pl.DataFrame, code: str, message: pl.Expr) -> pl.DataFrame:
    return frame.select(
        pl.col(LINE).alias("line"), pl.lit("").alias("column"), pl.lit(code).alias("code"),
        message.alias("message"),
    )


def read_csv_text(data: bytes, delimiter: str) -> RawTable:
    """Structural check line by line (vectorised), then polars parses the well-formed lines."""
    fast = _read_plain(data, delimiter)
    if fast is not None:
        return fast
    lines = _lines(data)
    if lines.height == 0 or not lines["raw"][0].strip():
        raise FileError("empty_file", "the file has no header line")
    headers = _split_header(lines["raw"][0], delimiter)
    body = lines.slice(1).filter(pl.col("raw").str.strip_chars() != "")
    counted = _count_fields(body, delimiter)
    expected = len(headers)
    bad = counted.filter(~pl.col("ok") | (pl.col("fields") != expected))
    errors = _error_rows(
        bad, "malformed_line",
        pl.when(~pl.col("ok"))
        .then(pl.lit("unbalanced quotes (a line break inside a quoted field is not supported)"))
        .otherwise(pl.format(f"expected {expected} fields, found {{}}", pl.col("fields"))),
    )
    good = counted.filter(pl.col("ok") & (pl.col("fields") == expected))
    frame = _parse_good_lines(data, lines, good, headers, delimiter, clean=bad.height == 0
                              and body.height == lines.height - 1)
    return RawTable(frame=frame, headers=headers, errors=errors, data_lines=body.height)


def _read_plain(data: bytes, delimiter: str) -> RawTable | None:
    """The common case without a line-by-line pass, or None when it does not apply.

    It applies to a file with no quote character and no blank line whose
    delimiter count is exactly (columns - 1) per line: polars refuses any line
    with too many fields, and with none over the count, none can be short.
    """
    if b'"' in data or b"\n\n" in data or b"\n\r\n" in data or delimiter == "\n":
        return None
    header_end = data.find(b"\n")
    if header_end <= 0:
        return None
    headers = _split_header(data[:header_end].decode().rstrip("\r"), delimiter)
    line_count = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if data.count(delimiter.encode()) != (len(headers) - 1) * line_count:
        return None
    names = [f"c{i}" for i in range(len(headers))]
    try:
        frame = pl.read_csv(data, has_header=False, skip_rows=1, separator=delimiter,
                            infer_schema=False, new_columns=names, empty_string_is_null=False,
                            raise_if_empty=False, quote_char=None)
    except pl.exceptions.PolarsError:
        return None
    if frame.height != line_count - 1 or frame.columns != names:  # header only: no columns
        return None
    frame = frame.rename(dict(zip(names, _unique(headers), strict=True))).with_columns(
        pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias(LINE))
    return RawTable(frame=frame, headers=headers, errors=empty_errors(),
                    data_lines=frame.height)


def _split_header(header_line: str, delimiter: str) -> list[str]:
    frame = pl.read_csv(
        header_line.encode(), has_header=False, separator=delimiter, infer_schema=False,
        truncate_ragged_lines=True,
    )
    return [str(value or "").strip() for value in frame.row(0)]


def _count_fields(body: pl.DataFrame, delimiter: str) -> pl.DataFrame:
    d = re.escape(delimiter)
    field = f'(?:"(?:[^"]|"")*"|[^"{d}]*)'
    record = f"^{field}(?:{d}{field})*$"
    quoted = pl.col("raw").str.contains('"', literal=True)
    return body.with_columns(
        ok=pl.when(quoted).then(pl.col("raw").str.contains(record)).otherwise(pl.lit(True)),
        fields=pl.when(quoted)
        .then(pl.col("raw").str.replace_all(r'"(?:[^"]|"")*"', "").str.count_matches(
            delimiter, literal=True))
        .otherwise(pl.col("raw").str.count_matches(delimiter, literal=True))
        .cast(pl.Int64) + 1,
    )


def _parse_good_lines(
    data: bytes, lines: pl.DataFrame, good: pl.DataFrame, headers: list[str], delimiter: str,
    *, clean: bool,
) -> pl.DataFrame:
    names = [f"c{i}" for i in range(len(headers))]
    if clean:
        source = data
    else:
        kept = pl.concat([lines.head(1), good.select(LINE, "raw")])
        source = kept["raw"].str.join("\n").item().encode() + b"\n"
    if good.height == 0:
        frame = pl.DataFrame(schema=dict.fromkeys(names, pl.String))
    else:
        frame = pl.read_csv(
            source, has_header=False, skip_rows=1, separator=delimiter, infer_schema=False,
            new_columns=names, empty_string_is_null=False, raise_if_empty=False,
        )
    if frame.height != good.height:
        raise FileError("malformed_file", "the file could not be read as CSV")
    frame = frame.rename(dict(zip(names, _unique(headers), strict=True)))
    return frame.with_columns(good[LINE].alias(LINE))


def _unique(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in headers:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}#{count + 1}")
    return out


def read_json_lines(data: bytes, wanted: list[str]) -> RawTable:
    """One JSON object per line; each wanted key is read as text (numbers as written)."""
    lines = _lines(data)
    body = lines.filter(pl.col("raw").str.strip_chars() != "")
    looks_ok = pl.col("raw").str.contains(r"^\s*\{.*\}\s*$")
    bad = body.filter(~looks_ok)
    errors = _error_rows(bad, "malformed_line", pl.lit("not a JSON object on one line"))
    good = body.filter(looks_ok)
    present = []
    columns = []
    for key in wanted:
        if not re.fullmatch(r"[A-Za-z0-9_]+", key):
            continue
        column = pl.col("raw").str.json_path_match(f"$.{key}").alias(key)
        columns.append(column)
        present.append(key)
    frame = good.select(LINE, *columns)
    found = [key for key in present if frame[key].null_count() < frame.height]
    return RawTable(frame=frame.select(LINE, *found), headers=found, errors=errors,
                    data_lines=body.height)
