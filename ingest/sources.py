"""Seller files -> batches of text rows: CSV (encoding and delimiter detected), XLSX, Parquet.

Every batch is a frame of String columns named as in the file plus ``row``: the row's number in
the file as a spreadsheet shows it (CSV and XLSX: the header is row 1, so the first data row is
row 2; Parquet: the first record is row 1). A CSV record with a newline inside quotes counts as
one row. Blank lines are read as empty rows and dropped by the caller, counted apart.

A CSV batch also carries, per row, ``FIELDS``: how many fields the record has (a shorter record's
missing fields and a longer one's extra fields are not in its columns: the caller compares this
with the header's, see ``header_fields``), and ``BROKEN``: null, or why the record cannot be read
as it stands (``NO_LINE_END``: the file's last record has no line end and fewer fields than the
header names; ``OPEN_QUOTE``: a quote opened in it is never closed, the rest of the file is inside
it).

Encoding: UTF-16 and UTF-32 (by their BOM, or without one by where their zero bytes stand) are
read as such; valid UTF-8 (with or without BOM) is UTF-8; anything else is Windows-1250 unless it
holds none of Windows-1250's own bytes (0x80-0x9F, control characters in ISO-8859-2) and some of
ISO-8859-2's Polish letters (ą ś ź Ą Ś Ź at 0xB1 0xB6 0xBC 0xA1 0xA6 0xAC). A profile's encoding
that the bytes contradict (a UTF-8 file under a Windows-1250 profile, or the other way round) is
an error naming both, never a file read into garbled text. Bytes that are no text (NUL bytes,
control characters, a ZIP or Parquet file named .csv) are refused before anything is parsed.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, TextIO

import numpy as np
import polars as pl
from numba import njit

from engine.errors import InputError
from engine.prefetch import ahead

CHUNK = 8 << 20
BATCH_ROWS = 100_000
ROW = "row"
FIELDS = "_fields"
BROKEN = "_broken"
#: the columns a batch carries besides the file's own
META = (ROW, FIELDS, BROKEN)
NO_LINE_END = "no line end"
OPEN_QUOTE = "a quote never closed"

Encoding = Literal["utf-8", "cp1250", "iso-8859-2", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]
Kind = Literal["csv", "xlsx", "parquet"]
#: encodings of two or four bytes a character: their bytes are read through a decoder, not split at b"\n"
WIDE = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: how the code pages are named in messages
NAMES = {
    "utf-8": "UTF-8",
    "cp1250": "Windows-1250",
    "iso-8859-2": "ISO-8859-2",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "utf-32-le": "UTF-32 LE",
    "utf-32-be": "UTF-32 BE",
}
#: bytes of no text file: C0 control characters but TAB, LF, CR (and FF, SUB, which old exports hold)
_CONTROL = bytes(set(range(0x20)) - {0x09, 0x0A, 0x0D, 0x0C, 0x1A})
#: what a file that is not text starts with, and what it then is
_MAGIC = (
    (b"PK\x03\x04", "it is a ZIP archive: an XLSX file named .csv? Give it its .xlsx name"),
    (b"PAR1", "it is a Parquet file: give it its .parquet name"),
    (b"\x1f\x8b", "it is gzip-compressed: unpack it"),
    (b"%PDF", "it is a PDF document"),
    (b"\xd0\xcf\x11\xe0", "it is an old Excel (.xls) or Word file: save it as CSV or XLSX"),
)

_CP1250_ONLY = bytes(range(0x80, 0xA0))
_ISO_POLISH = b"\xb1\xb6\xbc\xa1\xa6\xac"
_CP1250_POLISH = b"\xb9\x9c\x9f\xa5\x8c\x8f"


class SourceError(InputError):
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
    ascii: bool = True  # CSV: every byte is ASCII, a UTF-8 BOM aside (then UTF-8 and the code pages read it alike)


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
    is_utf8, is_ascii, size, lines, wide = True, True, 0, 0, None
    counts = dict.fromkeys(("cp1250_only", "iso_polish", "cp1250_polish"), 0)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            if kind == "csv" and size == 0:
                wide = wide_encoding(chunk)
                if wide is None:
                    refuse_binary(path, chunk)
            elif size == 0:
                refuse_unlike(path, kind, chunk)
            size += len(chunk)
            if kind != "csv" or wide is not None:
                lines += chunk.count(b"\n") if kind == "csv" else 0
                continue
            lines += chunk.count(b"\n")
            is_ascii = is_ascii and (chunk.removeprefix(codecs.BOM_UTF8) if size == len(chunk) else chunk).isascii()
            if is_utf8:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    is_utf8 = False
            if not is_utf8 and counts["cp1250_only"] == 0:  # one Windows-1250-only byte decides it
                for name, alphabet in (
                    ("cp1250_only", _CP1250_ONLY),
                    ("iso_polish", _ISO_POLISH),
                    ("cp1250_polish", _CP1250_POLISH),
                ):
                    counts[name] += len(chunk) - len(chunk.translate(None, alphabet))
    if is_utf8:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8 = False
    encoding: Encoding | None = None
    if kind == "csv":
        iso = not is_utf8 and counts["cp1250_only"] == 0 and counts["iso_polish"] > 0
        encoding = wide or ("utf-8" if is_utf8 else "iso-8859-2" if iso else "cp1250")
    return Scanned(path, kind, digest.hexdigest(), size, encoding, lines, is_ascii and wide is None)


def wide_encoding(head: bytes) -> Encoding | None:
    """UTF-16 or UTF-32 (LE or BE) by the BOM ``head`` starts with, or without one by where the
    zero bytes of its first 4 KB stand: the high bytes of the characters a CSV is made of (digits,
    Latin letters, Polish ones up to U+017F) are zero or one, their low bytes are not zero. None:
    a text of single bytes (UTF-8, a code page) or no text at all."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name  # type: ignore[return-value]
    sample = head[: min(len(head), 4096) // 4 * 4]
    if len(sample) < 8 or b"\x00" not in sample:
        return None
    zero = [sample[i::4].count(0) * 4 / len(sample) for i in range(4)]
    candidates: list[tuple[Encoding, bool]] = [
        ("utf-32-le", zero[2] == zero[3] == 1 and zero[0] < 0.1),
        ("utf-32-be", zero[0] == zero[1] == 1 and zero[3] < 0.1),
        ("utf-16-le", (zero[1] + zero[3]) / 2 > 0.5 and (zero[0] + zero[2]) / 2 < 0.05),
        ("utf-16-be", (zero[0] + zero[2]) / 2 > 0.5 and (zero[1] + zero[3]) / 2 < 0.05),
    ]
    for name, fits in candidates:
        if fits:
            try:
                sample.decode(name)
            except UnicodeDecodeError:  # a surrogate cut at the sample's end, or no such text
                if name.startswith("utf-32"):
                    continue
            return name
    return None


def refuse_binary(path: Path, head: bytes) -> None:
    """A ``SourceError`` for a file named .csv whose first bytes (``head``, 64 KB of them looked at)
    are no text: a known binary format, or more than one byte in a hundred a NUL or another control
    character (text has none but TAB, CR and LF; a stray one is a reject of its row, not of the file)."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise SourceError(f"{path.name} is not a CSV text file ({what})")
    sample = head[: 64 << 10]
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    if controls > max(len(sample) // 100, 1):
        at = len(sample) - len(sample.lstrip(bytes(range(0x20, 0x100)) + b"\t\n\r\x0c\x1a"))
        nul = sample.count(0)
        why = f"{controls:,} control characters" + (f", {nul:,} of them NUL bytes," if nul else "")
        raise SourceError(
            f"{path.name} is not a CSV text file ({why} in its first {len(sample):,} bytes, the first at byte "
            f"{at:,}: binary data, or a text in an encoding ingest does not read)"
        )


#: how the files of each kind start (XLSX: a ZIP archive; .xls: an OLE2 compound file)
_STARTS = {"parquet": (b"PAR1",), "xlsx": (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")}


def refuse_unlike(path: Path, kind: Kind, head: bytes) -> None:
    """A ``SourceError`` for an XLSX or Parquet file whose first bytes are not what such a file starts with."""
    if not head.startswith(_STARTS[kind]):
        what = "an Excel workbook" if kind == "xlsx" else "a Parquet file"
        text = " (it looks like text: a CSV file named so?)" if head[:4096].isascii() and b"\n" in head[:4096] else ""
        raise SourceError(f"{path.name} is not {what}: it does not start as one does{text}")


def reading_encoding(scanned: Scanned, wanted: Encoding | None) -> Encoding:
    """The encoding the CSV is read in: the profile's (``wanted``) or the detected one. The bytes
    decide against a profile only where they cannot be wrong: UTF-16/UTF-32 is read as such; a
    file of valid UTF-8 with letters beyond ASCII under a code-page profile, or a file that is no
    UTF-8 under a UTF-8 profile, is an error naming both (read the other way every Polish letter
    would be stored garbled)."""
    detected = scanned.encoding or "utf-8"
    if wanted is None or detected in WIDE or wanted == detected:
        return detected
    if detected == "utf-8" and scanned.ascii:
        return detected  # ASCII (a BOM aside) reads alike in all three
    if detected == "utf-8":
        word = _first_word_beyond_ascii(scanned.path, wanted)
        seen = f": its {word!r} would read {word.encode('utf-8').decode(wanted, errors='replace')!r}" if word else ""
        raise SourceError(
            f"the file is UTF-8 but the profile says {NAMES[wanted]}{seen}; set `encoding: utf-8` in the "
            f"profile, or save the file as {NAMES[wanted]}"
        )
    if wanted == "utf-8" and detected != "utf-8":
        where = _first_byte_beyond_utf8(scanned.path)
        raise SourceError(
            f"the file is not UTF-8 (byte 0x{where[0]:02X} at line {where[1]:,} is none), but the profile "
            f"says UTF-8; it reads as {NAMES[detected]}: set `encoding: {detected}` in the profile"
        )
    return wanted


def _first_word_beyond_ascii(path: Path, garbled_in: str) -> str | None:
    """The first word of the file's first 64 KB with a letter beyond ASCII (for a message), one
    whose bytes are all characters in ``garbled_in`` if there is such a word."""
    import re

    with path.open("rb") as f:
        text = f.read(64 << 10).decode("utf-8", errors="ignore")
    words = [w[:40] for w in re.findall(r"[^\s;,|\t\"]*[^\x00-\x7f][^\s;,|\t\"]*", text)]
    readable = [w for w in words if "\ufffd" not in w.encode("utf-8").decode(garbled_in, errors="replace")]
    return (readable or words or [None])[0]


def _first_byte_beyond_utf8(path: Path) -> tuple[int, int]:
    """(the first byte that is no UTF-8, its line number from 1)."""
    decoder, line = codecs.getincrementaldecoder("utf-8")(), 1
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                return chunk[e.start], line + chunk.count(b"\n", 0, e.start)
            line += chunk.count(b"\n")
    return 0, line


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
    cell: nothing is dropped. UTF-8 without BOM passes as it is, and so do the pieces of a UTF-16
    or UTF-32 file (``_pieces`` reads those through their decoder)."""
    encoding = encoding or scanned.encoding or "utf-8"
    with scanned.path.open("rb") as f:
        has_bom = f.read(3) == codecs.BOM_UTF8
    if encoding in WIDE or (encoding == "utf-8" and not has_bom):
        return lambda data, first: data
    if encoding == "utf-8":

        def without_bom(data: bytes, first: bool) -> bytes:
            data = data[len(codecs.BOM_UTF8) :] if first and data.startswith(codecs.BOM_UTF8) else data
            return data.decode("utf-8", errors="replace").encode("utf-8")

        return without_bom
    # a single-byte code page: every piece decodes on its own
    return lambda data, first: data.decode(encoding, errors="replace").encode("utf-8")


def header_fields(columns: list[str]) -> tuple[int, int]:
    """(fewest, most) fields a record may have under a header of ``columns`` (a batch's): the
    header's count, less its trailing unnamed fields for the fewest (a header that ends in a
    separator, as some exports write it, does not ask the same of every row)."""
    data = [c for c in columns if c not in META]
    named = len(data)
    while named and _unnamed(data[named - 1]):
        named -= 1
    return named, len(data)


def _unnamed(column: str) -> bool:
    """A header field left empty (polars names the first '' and the others '_duplicated_<n>')."""
    import re

    return not column.strip() or re.fullmatch(r"_duplicated_\d+", column) is not None


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
        batches = _csv_batches(scanned, reading_encoding(scanned, encoding), delimiter, batch_rows)
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


def _parsed_pieces(scanned: Scanned, encoding: Encoding, delimiter: str | None) -> Iterator[tuple[pl.DataFrame, bool]]:
    """(each piece's rows, numbered, with ``FIELDS`` and ``BROKEN``, False); or, for a file of a
    header only, one empty frame with the header's columns and True, so the header is still
    checked. A record in which a quote is never closed is not parsed (the parser would refuse the
    piece): it comes as a row of no values, ``BROKEN`` saying why."""
    transcoded = utf8_transcoder(scanned, encoding)
    header = separator = None
    row = 2
    for head, records in _pieces(scanned.path, encoding=encoding):
        head = transcoded(head, True)
        if header is None:
            header = head.decode("utf-8", errors="replace").rstrip("\r\n")
            if not header.strip():
                raise SourceError(f"{scanned.path.name}: the first line is empty; a header row is required")
            if header.count('"') % 2:
                raise SourceError(f"{scanned.path.name}: a quote in the header row is never closed: {header[:120]!r}")
            separator = delimiter or detect_delimiter(header)
        records = transcoded(records, False)
        fields, open_from, ambiguous = field_counts(records, separator)
        if ambiguous is not None:
            raise SourceError(
                f"{scanned.path.name}: row {row + ambiguous:,}: quotes inside an unquoted value with a separator or a line "
                'end between them (like Firma "A;B" x): its fields cannot be told apart. Quote such a value whole, its '
                'quotes doubled: "Firma ""A;B"" x"'
            )
        parsed, left_open = (records, None) if open_from is None else (records[:open_from], records[open_from:])
        if left_open is not None and b"\n" in left_open.rstrip(b"\r\n"):
            lines = left_open.rstrip(b"\r\n").count(b"\n") + 1
            raise SourceError(
                f"{scanned.path.name}: a quote opened in row {row + len(fields) - 1:,} is never closed: the "
                f"{lines:,} lines from there to the end would be one value (a quote missing or one too many?)"
            )
        try:
            frame = pl.read_csv(
                head + parsed, separator=separator, infer_schema=False, truncate_ragged_lines=True, raise_if_empty=False
            )
        except pl.exceptions.ComputeError:
            raise SourceError(
                f"{scanned.path.name}: {_rows(row, row + len(fields) - 1)}: quotes that do not pair up (a quote inside "
                'an unquoted value, or text after a closing one; a value with quotes is quoted whole, its quotes doubled: "a ""b"" c")'
            ) from None
        if frame.height != len(fields) - (left_open is not None):
            raise SourceError(
                f"{scanned.path.name}: {_rows(row, row + len(fields) - 1)}: the records cannot be told "
                f"apart ({frame.height:,} parsed, {len(fields):,} counted): quotes that do not pair up?"
            )
        frame = _with_fields(frame, fields, row, left_open is not None, records)
        row += frame.height
        if not records:
            yield frame, True
            return
        yield frame, False


def _rows(first: int, last: int) -> str:
    return f"row {first:,}" if first == last else f"rows {first:,}..{last:,}"


def _with_fields(frame: pl.DataFrame, fields: np.ndarray, row: int, left_open: bool, records: bytes) -> pl.DataFrame:
    """``frame`` (a piece's records, parsed) with ``ROW`` from ``row``, ``FIELDS`` and ``BROKEN``, and a
    row of no values for the record left open at its end."""
    fewest, _ = header_fields(frame.columns)
    if left_open:
        frame = pl.concat([frame, pl.DataFrame({c: [None] for c in frame.columns}, schema=frame.schema)])
    last = OPEN_QUOTE if left_open else None
    if not left_open and records and not records.endswith(b"\n") and fields[-1] < fewest:  # the file's last record
        last = NO_LINE_END
    broken = (
        pl.lit(None, pl.String)
        if last is None
        else pl.when(pl.int_range(pl.len()) == frame.height - 1).then(pl.lit(last))
    )
    return frame.select(
        pl.int_range(row, row + frame.height, dtype=pl.Int64).alias(ROW),
        pl.all(),
        pl.Series(FIELDS, fields, dtype=pl.Int32),
        broken.cast(pl.String).alias(BROKEN),
    )


def field_counts(records: bytes, separator: str) -> tuple[np.ndarray, int | None, int | None]:
    """(the number of fields of each record in ``records``, whole records of UTF-8 text, the first
    starting where ``records`` does; where the last record starts if a quote opened in it is never
    closed, else None; the first ambiguous record, or None).

    A quote that opens a field, or doubles one, makes what follows up to the next one a quoted
    part, in which separators and line ends do not count: over the bytes with numpy, a byte is
    inside quotes exactly when an odd number of quotes stand before it. A quote inside an unquoted
    value (``Firma "A;B" x``) is another matter: polars reads one such as a character and another
    as opening a quoted part, and the rows after it may then be read out of step (or the file
    refused). A piece with one is also read through a CSV reader's states (numba), where such a
    quote is a character: a record the two count apart is ambiguous, and so is every record after
    it in the piece (its values cannot be trusted either way); where they find records apart, the
    first whose count differs (or the first one more)."""
    data = np.frombuffer(records, np.uint8)
    quotes = np.flatnonzero(data == ord('"'))
    counts, open_from = _parity_counts(data, quotes, separator)
    if quotes.size == 0:
        return counts, open_from, None
    openers = quotes[0::2]
    before = data[openers[openers > 0] - 1]
    if np.isin(before, np.array([ord(separator), ord("\n"), ord('"')], np.uint8)).all():
        return counts, open_from, None
    as_characters = np.empty(records.count(b"\n") + 1, np.int32)
    n, _ = _count_fields(data, ord(separator), as_characters)
    both = min(n, counts.size)
    ambiguous = np.flatnonzero(as_characters[:both] != counts[:both])
    if ambiguous.size:
        return counts, open_from, int(ambiguous[0])
    return counts, open_from, (None if n == counts.size else both)


def _parity_counts(data: np.ndarray, quotes: np.ndarray, separator: str) -> tuple[np.ndarray, int | None]:
    """``field_counts`` where every quote opens a quoted part or closes one."""
    separators = np.flatnonzero(data == ord(separator))
    ends = np.flatnonzero(data == ord("\n"))
    if quotes.size:
        ends = ends[np.searchsorted(quotes, ends) % 2 == 0]  # few: one a record
        # many: a separator is inside quotes when it stands between a quote and the next one
        bounds = np.searchsorted(separators, np.append(quotes, data.size) if quotes.size % 2 else quotes)
        inside = np.bincount(bounds[0::2], minlength=separators.size + 1) - np.bincount(
            bounds[1::2], minlength=separators.size + 1
        )
        separators = separators[np.cumsum(inside[:-1]) == 0]
    open_from = (int(ends[-1]) + 1 if ends.size else 0) if quotes.size % 2 else None
    if data.size and (ends.size == 0 or ends[-1] != data.size - 1):
        ends = np.append(ends, data.size)  # the last record has no line end
    return (np.diff(np.searchsorted(separators, ends), prepend=0) + 1).astype(np.int32), open_from


@njit(cache=True, nogil=True)
def _count_fields(data, separator, counts):  # pragma: no cover - numba
    """(records counted into ``counts``, where the last one starts if it ends inside quotes or -1).
    States: 0 a field's start, 1 in an unquoted field, 2 in a quoted one, 3 after a quote in it."""
    quote, line_end = 34, 10
    n, fields, state, start = 0, 1, 0, 0
    for i in range(data.size):
        c = data[i]
        if state == 2:
            if c == quote:
                state = 3
        elif c == separator:
            fields += 1
            state = 0
        elif c == line_end:
            counts[n] = fields
            n += 1
            fields, state, start = 1, 0, i + 1
        elif c == quote:
            state = 2 if state != 1 else 1  # opens a field, or doubled after a closing one; else a character
        else:
            state = 1
    open_from = -1
    if start < data.size:  # the last record has no line end
        counts[n] = fields
        n += 1
        if state == 2:
            open_from = start
    return n, open_from


#: Bytes read at a time. Under glibc's largest mmap threshold (32 MB): a piece's buffers then come
#: from the heap and are reused, where larger ones are fresh mappings each time, zero-filled by the
#: kernel (at 32 MB a 10M-row file spent 7 s of system time on that, 3 s at 8 MB).
PIECE = 8 << 20


def _pieces(path: Path, piece: int | None = None, encoding: Encoding | None = None) -> Iterator[tuple[bytes, bytes]]:
    """(the header line, the next records): pieces of the file after its header that end where a
    record ends, at a newline outside quotes (a quoted field may hold newlines: an even number of
    quote characters stands before a record's end, since each piece starts outside quotes). A
    UTF-16 or UTF-32 file comes as UTF-8 (its bytes cannot be split at b"\\n")."""
    piece = piece or PIECE
    with _opened(path, encoding) as f:
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


@contextmanager
def _opened(path: Path, encoding: Encoding | None) -> Iterator[BinaryIO]:
    """The file's bytes; a UTF-16 or UTF-32 file's text as UTF-8 (its BOM dropped; a code unit that
    is no character becomes U+FFFD, which validation rejects in any cell)."""
    if encoding not in WIDE:
        with path.open("rb") as f:
            yield f
        return
    with path.open("rb") as f:
        bom = dict((name, b) for b, name in _BOMS)[encoding]
        has_bom = f.read(len(bom)) == bom
    with path.open(encoding=encoding[:6] if has_bom else encoding, errors="replace", newline="") as text:
        yield _Utf8Of(text)  # type: ignore[misc]


class _Utf8Of:
    """A text file read as UTF-8 bytes: what ``_pieces`` asks of a binary file."""

    def __init__(self, text: TextIO) -> None:
        self.text = text

    def readline(self) -> bytes:
        return self.text.readline().encode("utf-8")

    def read(self, size: int) -> bytes:
        return self.text.read(size).encode("utf-8")


def _xlsx_batches(path: Path, sheet: str | int, batch_rows: int) -> Iterator[pl.DataFrame]:
    """XLSX through fastexcel (calamine), every cell as text: a date cell becomes yyyy-mm-dd, a
    number its shortest decimal form (what the seller typed, if Excel did not mangle it)."""
    import fastexcel

    try:
        frame = pl.from_arrow(fastexcel.read_excel(path).load_sheet(sheet, dtypes="string").to_arrow())
    except Exception as e:  # fastexcel raises its own hierarchy for a broken or missing sheet
        raise SourceError(f"{path.name}: cannot read sheet {sheet!r}: {str(e).strip().splitlines()[0]}") from None
    frame = frame.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))
    yield from frame.iter_slices(batch_rows)


def estimated_rows(scanned: Scanned) -> int | None:
    return max(scanned.lines - 1, 0) if scanned.kind == "csv" else None


OnRows = Callable[[int], None]
