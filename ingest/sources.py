"""Seller files -> batches of text rows: CSV (encoding and delimiter detected), XLSX, Parquet.

Every batch is a frame of String columns named as in the file plus ``row``: the row's number in
the file as a spreadsheet shows it (CSV and XLSX: the header is row 1, so the first data row is
row 2; Parquet: the first record is row 1). A CSV record with a newline inside quotes counts as
one row. Blank lines are read as empty rows and dropped by the caller, counted apart.

Encoding: valid UTF-8 (with or without BOM) is UTF-8; anything else is Windows-1250 unless it
holds none of Windows-1250's own bytes (0x80-0x9F, control characters in ISO-8859-2) and some of
ISO-8859-2's Polish letters (ą ś ź Ą Ś Ź at 0xB1 0xB6 0xBC 0xA1 0xA6 0xAC).
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from engine.prefetch import ahead

CHUNK = 8 << 20
BATCH_ROWS = 100_000
ROW = "row"

Encoding = Literal["utf-8", "cp1250", "iso-8859-2"]
Kind = Literal["csv", "xlsx", "parquet"]

_CP1250_ONLY = bytes(range(0x80, 0xA0))
_ISO_POLISH = b"\xb1\xb6\xbc\xa1\xa6\xac"
_CP1250_POLISH = b"\xb9\x9c\x9f\xa5\x8c\x8f"


class SourceError(ValueError):
    """A file ingest cannot read at all (unknown type, no header, unreadable)."""


@dataclass(frozen=True)
class Scanned:
    """What one pass over the bytes tells: content hash, size, encoding, approximate line count."""

    path: Path
    kind: Kind
    sha256: str
    size: int
    encoding: Encoding | None  # CSV only
    lines: int


def kind_of(path: Path) -> Kind:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return "xlsx"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise SourceError(f"{path}: unknown file type {suffix!r} (CSV, XLSX or Parquet)")


def scan(path: Path) -> Scanned:
    """One pass: sha256 of the content, and for CSV its encoding and number of lines."""
    kind = kind_of(path)
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8, size, lines = True, 0, 0
    counts = dict.fromkeys(("cp1250_only", "iso_polish", "cp1250_polish"), 0)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if kind != "csv":
                continue
            lines += chunk.count(b"\n")
            if is_utf8:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    is_utf8 = False
            if not is_utf8 and counts["cp1250_only"] == 0:  # one Windows-1250-only byte decides it
                for name, alphabet in (("cp1250_only", _CP1250_ONLY), ("iso_polish", _ISO_POLISH),
                                       ("cp1250_polish", _CP1250_POLISH)):  # fmt: skip
                    counts[name] += len(chunk) - len(chunk.translate(None, alphabet))
    if is_utf8:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8 = False
    encoding: Encoding | None = None
    if kind == "csv":
        iso = not is_utf8 and counts["cp1250_only"] == 0 and counts["iso_polish"] > 0
        encoding = "utf-8" if is_utf8 else "iso-8859-2" if iso else "cp1250"
    return Scanned(path, kind, digest.hexdigest(), size, encoding, lines)


def detect_delimiter(header: str) -> str:
    """The separator of a header line: the most frequent of ; , TAB | outside quotes (';' on a tie)."""
    outside, quoted = [], False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            outside.append(ch)
    text = "".join(outside)
    counts = {d: text.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=lambda d: (counts[d], d == ";"))
    if counts[best] == 0:
        return ";"
    return best


def utf8_transcoder(scanned: Scanned, encoding: Encoding | None) -> Callable[[bytes, bool], bytes]:
    """(bytes, first) -> the same text as UTF-8 without BOM, for pieces of the CSV that start where
    a line starts (``first``: the file's first piece). A byte the code page lacks, or a byte that
    is no UTF-8 in a file read as UTF-8 with BOM, becomes U+FFFD, which validation rejects in any
    cell: nothing is dropped. UTF-8 without BOM passes as it is."""
    encoding = encoding or scanned.encoding or "utf-8"
    with scanned.path.open("rb") as f:
        has_bom = f.read(3) == codecs.BOM_UTF8
    if encoding == "utf-8" and not has_bom:
        return lambda data, first: data
    if encoding == "utf-8":

        def without_bom(data: bytes, first: bool) -> bytes:
            data = data[len(codecs.BOM_UTF8) :] if first and data.startswith(codecs.BOM_UTF8) else data
            return data.decode("utf-8", errors="replace").encode("utf-8")

        return without_bom
    # a single-byte code page: every piece decodes on its own
    return lambda data, first: data.decode(encoding, errors="replace").encode("utf-8")


def read_batches(
    scanned: Scanned,
    *,
    encoding: Encoding | None = None,
    delimiter: str | None = None,
    sheet: str | int = 0,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pl.DataFrame]:
    """The file's rows in batches of text (see the module's docstring), in file order."""
    if scanned.kind == "csv":
        batches = _csv_batches(scanned, encoding, delimiter, batch_rows)
    elif scanned.kind == "xlsx":
        batches = _xlsx_batches(scanned.path, sheet, batch_rows)
    else:
        lazy = pl.scan_parquet(scanned.path).with_row_index(ROW, offset=1)
        lazy = lazy.select(pl.col(ROW).cast(pl.Int64), pl.exclude(ROW).cast(pl.String))
        batches = _at_least_one(lazy, batch_rows)
    yield from batches


def _at_least_one(lazy: pl.LazyFrame, batch_rows: int) -> Iterator[pl.DataFrame]:
    """The batches, or one empty batch (the header's columns) for a file without rows."""
    empty = True
    for batch in lazy.collect_batches(chunk_size=batch_rows):
        empty = False
        yield batch
    if empty:
        yield lazy.head(0).collect()


def _csv_batches(scanned: Scanned, encoding: Encoding | None, delimiter: str | None, batch_rows: int):
    """The CSV read a piece (about ``PIECE`` bytes of whole records) at a time, as the caller asks
    for batches: polars' streaming reader would read the whole file ahead of a slow caller and hold
    it in memory (at 10M rows, gigabytes). This holds a batch and the next piece, which is read,
    transcoded to UTF-8 and parsed on a thread meanwhile (polars parses off the GIL). Pieces are
    smaller than a batch (see ``PIECE``): their rows are gathered into batches of ``batch_rows``."""
    pending: list[pl.DataFrame] = []
    held = 0
    for frame, whole in ahead(_parsed_pieces(scanned, encoding, delimiter), "csv-pieces"):
        if whole:
            yield frame
            continue
        pending.append(frame)
        held += frame.height
        while held >= batch_rows:
            rows = pl.concat(pending, rechunk=False)
            yield rows.slice(0, batch_rows)
            rest = rows.slice(batch_rows)
            pending, held = ([rest] if rest.height else []), rest.height
    if pending:
        yield pl.concat(pending, rechunk=False)


def _parsed_pieces(scanned: Scanned, encoding: Encoding | None, delimiter: str | None) -> Iterator[tuple[pl.DataFrame, bool]]:
    """(each piece's rows, numbered, False); or, for a file of a header only or whose records the
    parser could not split (a quote opened in the header swallows them), one empty frame with the
    header's columns and True, so the header is still checked."""
    transcoded = utf8_transcoder(scanned, encoding)
    header = separator = None
    row = 2
    for head, records in _pieces(scanned.path):
        head = transcoded(head, True)
        if header is None:
            header = head.decode("utf-8", errors="replace").rstrip("\r\n")
            if not header.strip():
                raise SourceError(f"{scanned.path}: the first line is empty; a header row is required")
            separator = delimiter or detect_delimiter(header)
        frame = pl.read_csv(
            head + transcoded(records, False), separator=separator, infer_schema=False, truncate_ragged_lines=True,
            raise_if_empty=False,
        )  # fmt: skip
        frame = frame.with_row_index(ROW, offset=row).with_columns(pl.col(ROW).cast(pl.Int64))
        row += frame.height
        if not records or (frame.height == 0 and row == 2):
            yield frame, True
            if not records:
                return
            continue
        yield frame, False


#: Bytes read at a time. Under glibc's largest mmap threshold (32 MB): a piece's buffers then come
#: from the heap and are reused, where larger ones are fresh mappings each time, zero-filled by the
#: kernel (at 32 MB a 10M-row file spent 7 s of system time on that, 3 s at 8 MB).
PIECE = 8 << 20


def _pieces(path: Path, piece: int | None = None) -> Iterator[tuple[bytes, bytes]]:
    """(the header line, the next records): pieces of the file after its header that end where a
    record ends, at a newline outside quotes (a quoted field may hold newlines: an even number of
    quote characters stands before a record's end, since each piece starts outside quotes)."""
    piece = piece or PIECE
    with path.open("rb") as f:
        head = f.readline()
        if head and not head.endswith(b"\n"):
            head += b"\n"
        carry, any_records = b"", False
        while chunk := f.read(piece):
            data = carry + chunk
            end = data.rfind(b"\n")
            quotes = data.count(b'"', 0, end) if end >= 0 else 0
            while end >= 0 and quotes % 2:
                before = data.rfind(b"\n", 0, end)
                quotes -= data.count(b'"', max(before, 0), end)
                end = before
            if end < 0:  # no record ends in here yet: a longer piece
                carry = data
                continue
            any_records = True
            yield head, data[: end + 1]
            carry = data[end + 1 :]
        if carry or not any_records:
            yield head, carry


def _xlsx_batches(path: Path, sheet: str | int, batch_rows: int) -> Iterator[pl.DataFrame]:
    """XLSX through fastexcel (calamine), every cell as text: a date cell becomes yyyy-mm-dd, a
    number its shortest decimal form (what the seller typed, if Excel did not mangle it)."""
    import fastexcel

    try:
        frame = pl.from_arrow(fastexcel.read_excel(path).load_sheet(sheet, dtypes="string").to_arrow())
    except Exception as e:  # fastexcel raises its own hierarchy for a broken or missing sheet
        raise SourceError(f"{path}: cannot read sheet {sheet!r}: {e}") from None
    frame = frame.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))
    yield from frame.iter_slices(batch_rows)


def estimated_rows(scanned: Scanned) -> int | None:
    return max(scanned.lines - 1, 0) if scanned.kind == "csv" else None


OnRows = Callable[[int], None]
