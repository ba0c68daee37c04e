"""A seller file into a portfolio: read in batches, checked row by row, checked as a whole
(duplicates, what the store holds, control totals), debtors deduplicated, and stored in one
transaction, with every row read either accepted or in the reject report with its reasons.

    accepted + rejected = rows read            (blank lines are not rows; they are counted apart)

A file whose content (sha256) is already ingested into the portfolio is recognised and nothing is
stored again (into another portfolio it is refused, ``DuplicateError``, unless ``allow_duplicates``);
``new_version=True`` ingests it (or a corrected file) on purpose as the next version of the
portfolio, a portfolio of its own named ``<portfolio>@v<n>``. A file with other bytes but the same
claims (``ingest.duplicates``: re-saved, reordered), or with rows that are claims another portfolio
of the same seller holds, is refused (``DuplicateError``) unless ``new_version`` or
``allow_duplicates``; allowed, those rows are listed in the overlaps report.

The reports (``REPORT_FILES``) go to their final place with the commit: written under staged names
beside their final ones before it (a report that cannot be written fails the ingest, nothing is
stored), renamed just after it. Their lines are kept in the store too (`cession ingest report`
writes them again); an ingest committed with its reports still staged (a kill in between) is
recorded so, and the next ingest (or `cession ingest report`) puts them in place.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from engine.errors import InputError
from engine.money import to_grosz
from engine.schema import CLAIMS
from engine.store import ingests
from engine.store.bulk import is_postgres, write_frames
from engine.store.lock_holders import lock_holder
from engine.store.records import AuditAction, actor, audit
from engine.store.scratch import private_folder
from engine.validation import check_claims, conform
from ingest import debtors as debtor_rules
from ingest import duplicates
from ingest import rows as row_rules
from ingest.parsing import blank_to_null, detached
from ingest.profiles import Profile, load_profile
from ingest.sources import BATCH_ROWS, META, ROW, Scanned, SourceError, estimated_rows, read_batches, scan

OnProgress = Callable[[str, int, int | None], None]  # (stage, done, total)

log = logging.getLogger(__name__)


class IngestStatus(StrEnum):
    """What became of a file: its rows stored (``ingested``), or found stored already, nothing done
    (``already ingested``: the same bytes into the same portfolio, a rerun)."""

    INGESTED = "ingested"
    ALREADY_INGESTED = "already ingested"


class IngestError(InputError):
    """An ingest that cannot go on at all (the file unreadable, a required column missing,
    no price): nothing is stored."""


class ReportPathError(IngestError):
    """The reports cannot be written where they were asked for: nothing is stored."""


class DuplicateError(IngestError):
    """The file's claims (all or some) are already stored in another portfolio of the seller:
    nothing is stored. ``overlaps``: the rows (duplicates.OVERLAP_SCHEMA), empty when the whole
    file was recognised by its fingerprint."""

    def __init__(self, message: str, overlaps: pl.DataFrame | None = None) -> None:
        super().__init__(message)
        self.overlaps = overlaps if overlaps is not None else pl.DataFrame(schema=duplicates.OVERLAP_SCHEMA)


#: the report files of an ingest (STEM.<name>) -> the report they hold
REPORT_FILES = {
    "rejects.csv": "rejects",
    "rejects.parquet": "rejects",
    "candidates.csv": "candidates",
    "name_conflicts.csv": "name_conflicts",
    "overlaps.csv": "overlaps",
}
#: each report's columns (as kept in the store and written)
REPORT_SCHEMAS = {
    "rejects": row_rules.FAILURE_SCHEMA,
    "candidates": debtor_rules.CANDIDATE_SCHEMA,
    "name_conflicts": debtor_rules.CONFLICT_SCHEMA,
    "overlaps": duplicates.OVERLAP_SCHEMA,
}


@dataclass
class Control:
    """The seller's control totals against the file: rows read and the sum of principal."""

    count: int | None
    principal: int | None  # grosz
    rows_read: int
    principal_read: int  # grosz, of every row read whose principal parses
    unparsed_principal: int  # rows whose principal could not be read

    @property
    def given(self) -> bool:
        return self.count is not None or self.principal is not None

    @property
    def ok(self) -> bool | None:
        if not self.given:
            return None
        count_ok = self.count is None or self.count == self.rows_read
        principal_ok = self.principal is None or (
            self.principal == self.principal_read and self.unparsed_principal == 0
        )
        return count_ok and principal_ok


@dataclass
class IngestReport:
    file: Path
    sha256: str
    portfolio_id: str
    version: int
    status: IngestStatus
    rows_read: int
    blank_lines: int
    accepted: int
    rejected: int
    failures: pl.DataFrame  # row, seller_ref, column, rule, value: one line per broken rule
    candidates: pl.DataFrame  # probable duplicate debtors
    control: Control | None
    principal: int = 0  # grosz, accepted
    purchase_price: int = 0  # grosz, accepted
    new_debtors: int = 0
    known_debtors: int = 0  # debtors found in the store by PESEL/NIP
    ingest_id: int | None = None
    seconds: float = 0.0
    encoding: str | None = None
    padded_rows: int = 0  # short rows read with their missing trailing fields empty (a profile's pad_short_rows)
    already: dict = field(default_factory=dict)  # for a recognised file: when and where it went
    #: rows whose name is not the name their debtor (same PESEL/NIP) keeps: accepted, reported
    conflicts: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=debtor_rules.CONFLICT_SCHEMA))
    #: rows stored although another portfolio of the seller holds their claim (--allow-duplicates)
    overlaps: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=duplicates.OVERLAP_SCHEMA))
    fingerprint: str | None = None  # of the claims of the rows that pass the row rules (ingest.duplicates)
    reports: dict[str, Path] = field(default_factory=dict)  # the report files written, by name
    #: earlier ingests whose reports were still staged (a command stopped after its commit), now in place
    finished: list[str] = field(default_factory=list)

    def frames(self) -> dict[str, pl.DataFrame]:
        """The reports' lines, by report (REPORT_SCHEMAS), as files and the store keep them: a NUL
        in a text written ``\\x00`` (PostgreSQL's text holds none; CSV tools stop at it)."""
        frames = {
            "rejects": self.failures,
            "candidates": self.candidates,
            "name_conflicts": self.conflicts,
            "overlaps": self.overlaps,
        }
        return {
            name: frame.with_columns(pl.col(pl.String).str.replace_all("\x00", "\\x00", literal=True))
            for name, frame in frames.items()
        }

    def rejects_by_rule(self) -> dict[str, int]:
        """Rejected rows per (column: rule), most frequent first."""
        if self.failures.height == 0:
            return {}
        counted = (
            self.failures.group_by("column", "rule")
            .agg(pl.col("row").n_unique().alias("n"))
            .sort("n", "column", descending=[True, False])
        )
        return {f"{c}: {r}": n for c, r, n in counted.iter_rows()}

    def summary(self) -> dict:
        from engine.money import pln

        control = None
        if self.control is not None and self.control.given:
            c = self.control
            control = {
                "count": c.count,
                "rows_read": c.rows_read,
                "principal": pln(c.principal) if c.principal is not None else None,
                "principal_read": pln(c.principal_read),
                "unparsed_principal": c.unparsed_principal,
                "ok": c.ok,
            }
        return (
            {
                "status": self.status,
                "file": str(self.file),
                "sha256": self.sha256,
                "portfolio": self.portfolio_id,
                "version": self.version,
                "rows_read": self.rows_read,
                "accepted": self.accepted,
                "rejected": self.rejected,
                "accounted": self.accepted + self.rejected == self.rows_read,
                "blank_lines": self.blank_lines,
                "padded_rows": self.padded_rows,
                "rejects_by_rule": self.rejects_by_rule(),
                "principal": pln(self.principal),
                "purchase_price": pln(self.purchase_price),
                "new_debtors": self.new_debtors,
                "known_debtors": self.known_debtors,
                "debtor_candidates": self.candidates.height,
                "name_conflicts": self.conflicts.height,
                "overlaps": self.overlaps.get_column("row").n_unique(),
                "fingerprint": self.fingerprint,
                "control": control,
                "ingest_id": self.ingest_id,
                "encoding": self.encoding,
                "seconds": round(self.seconds, 3),
            }
            | ({"already": self.already} if self.already else {})
            | ({"finished": self.finished} if self.finished else {})
        )


def allocate_price(face: pl.Series, price: int) -> pl.Series:
    """The portfolio price split over claims in proportion to face value (principal + interest +
    costs), to the grosz, summing exactly to ``price`` (largest remainders get the spare grosze;
    ties by position). Claims of zero face value get nothing unless every claim has none."""
    n = len(face)
    if n == 0:
        return pl.Series("purchase_price", [], pl.Int64)
    total = int(face.sum())
    if total == 0:
        face, total = pl.Series([1] * n, dtype=pl.Int64), n
    # face x price can pass int64: multiply in Int128; the base share fits Int64 again (it is at
    # most the price), the remainder too unless the total face does not (then it stays Int128)
    wide = pl.lit(total, pl.Int128)
    remainder_type = pl.Int64 if total < 2**63 else pl.Int128
    shares = (
        face.to_frame("w")
        .lazy()
        .select(
            base=(pl.col("w").cast(pl.Int128) * pl.lit(price, pl.Int128) // wide).cast(pl.Int64),
            left=(pl.col("w").cast(pl.Int128) * pl.lit(price, pl.Int128) % wide).cast(remainder_type),
        )
        .collect()
    )
    spare = price - int(shares.get_column("base").sum())
    order = shares.with_row_index("i").select(pl.arg_sort_by("left", "i", descending=[True, False])).to_series()
    base = shares.get_column("base")
    if spare:
        base = base + pl.zeros(n, pl.Int64, eager=True).scatter(order.head(spare), 1)
    return base.alias("purchase_price")


def ingest_file(
    engine: sa.Engine,
    path: Path | str,
    portfolio: str,
    *,
    profile: Profile | str | Path | None = None,
    price: int | None = None,
    purchase_date: date | None = None,
    new_version: bool = False,
    control_count: int | None = None,
    control_principal: int | None = None,
    today: date | None = None,
    batch_rows: int | None = None,
    on_progress: OnProgress | None = None,
    who: str | None = None,
    reports: Path | str | None = None,
    allow_duplicates: bool = False,
) -> IngestReport:
    """Ingest one seller file into ``portfolio`` (see the module's docstring). ``price`` and the
    control principal are grosz. ``reports``: the stem of the report files (REPORT_FILES; None:
    none written, their lines are kept in the store all the same)."""
    started = time.perf_counter()
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if not portfolio or len(portfolio) > 56 or "@" in portfolio:
        raise IngestError(f"--portfolio {portfolio!r}: 1..56 characters, no '@' (used for versions)")
    stem = Path(reports).absolute() if reports is not None else None
    if stem is not None:
        _check_writable(stem)
    profile = profile if isinstance(profile, Profile) else load_profile(profile)
    progress = on_progress or (lambda *_: None)
    progress("hashing", 0, None)
    try:
        scanned = scan(path)
    except SourceError as e:
        raise IngestError(str(e)) from None
    log.info("ingest of %s (sha256 %s) into %s started", path.name, scanned.sha256[:12], portfolio)
    holder = lock_holder(engine) if is_postgres(engine) else None  # the wait at ingests.lock says what it waits for
    if holder is not None:  # (SQLite waits at any transaction's begin: lock_holders.on_wait hears it there)
        progress(f"waiting for the store's lock held by {holder}", 0, None)
    with engine.connect() as conn:
        earlier = ingests.ingests_of(conn, scanned.sha256)
    if earlier and not new_version and (seen := _seen_before(scanned, earlier, portfolio, allow_duplicates, started)):
        return seen
    terms = row_rules.Terms(purchase_date, price is not None, today or date.today())
    # one transaction from the first row read: debtors are written while the file is read; the
    # accepted rows' spill (personal data) in this run's private folder, never in /tmp
    with private_folder(engine.url) as spill, _Staged() as staged, engine.begin() as conn:
        ingests.lock(conn)
        finished = finish_reports(conn)
        earlier = ingests.ingests_of(conn, scanned.sha256)  # again, under the lock: another ingest may have stored it
        if (
            earlier
            and not new_version
            and (seen := _seen_before(scanned, earlier, portfolio, allow_duplicates, started, finished))
        ):
            return seen
        first_claim, first_debtor = ingests.next_ids(conn)
        # the first ingest into an empty store: keys and indexes are built once at the end
        bare = ingests.unindexed_if_empty(conn, estimated_rows(scanned))
        book = debtor_rules.DebtorBook(conn, first_debtor, estimated_rows(scanned))
        try:
            with _Writes(conn) as writes:

                def with_debtors(good: pl.DataFrame) -> pl.DataFrame:
                    rows, debtors, keys = book.assign(good, before_lookup=writes.wait)
                    writes.submit(ingests.write_debtors, conn, debtors, keys)
                    return rows

                read = _read(
                    scanned,
                    profile,
                    terms,
                    batch_rows,
                    progress,
                    Path(spill),
                    on_good=with_debtors,
                    prepare_good=debtor_rules.with_match_keys,
                )
        except SourceError as e:  # named once: most of the reader's errors name the file already
            said = str(e)
            raise IngestError(said if said.startswith(f"{path.name}: ") else f"{path.name}: {said}") from None
        except pl.exceptions.ComputeError as e:
            raise IngestError(f"{path.name}: cannot read it: {e}") from None
        if read.rows_read == 0:
            blank = f" ({read.blank_lines:,} blank lines)" if read.blank_lines else ""
            raise IngestError(f"{path.name}: no rows after the header{blank}: nothing to ingest, no portfolio made")
        if control_count is None and profile.control_totals is not None:
            control_count = profile.control_totals.count
        if control_principal is None and profile.control_totals is not None and profile.control_totals.principal:
            control_principal = to_grosz(profile.control_totals.principal)
        control = Control(
            control_count, control_principal, read.rows_read, read.principal_read, read.unparsed_principal
        )
        progress("storing", 0, None)
        latest = ingests.latest_version(conn, portfolio)
        version = latest + 1 if new_version and latest else max(latest, 1)
        portfolio_id = portfolio if version == 1 else f"{portfolio}@v{version}"
        report = IngestReport(
            path,
            scanned.sha256,
            portfolio_id,
            version,
            IngestStatus.INGESTED,
            read.rows_read,
            read.blank_lines,
            0,
            0,
            read.failures,
            pl.DataFrame(),
            control,
            encoding=scanned.encoding,
            padded_rows=read.padded_rows,
            fingerprint=read.fingerprint.of(profile.seller),
            finished=finished,
        )
        guard = _Guard(profile.seller, portfolio, not (new_version or allow_duplicates), stem)
        if not new_version and read.fingerprint.rows:
            guard.same_claims(conn, report)
        _store(
            conn, read, report, profile, price, progress, book, first_claim, bare, guard=None if new_version else guard
        )
        details = {
            "rejects_by_rule": report.rejects_by_rule(),
            "new_debtors": report.new_debtors,
            "known_debtors": report.known_debtors,
            "debtor_candidates": report.candidates.height,
            "name_conflicts": report.conflicts.height,
            "overlaps": report.overlaps.get_column("row").n_unique(),
            "blank_lines": report.blank_lines,
            "encoding": scanned.encoding,
            "padded_rows": report.padded_rows,
            "report_lines": {name: frame.height for name, frame in report.frames().items()},
        }
        report.ingest_id = ingests.record(
            conn,
            content_sha256=scanned.sha256,
            portfolio_id=portfolio_id,
            base_portfolio=portfolio,
            version=version,
            file_name=path.name,
            profile=profile.name,
            actor=who or actor(),
            rows_read=report.rows_read,
            accepted=report.accepted,
            rejected=report.rejected,
            principal=report.principal,
            purchase_price=report.purchase_price,
            control_count=control.count,
            control_principal=control.principal,
            control_ok=control.ok,
            details=details,
            content_fingerprint=report.fingerprint,
            reports_stem=str(stem) if stem is not None else None,
            reports_pending=stem is not None,
        )
        audit(
            conn,
            AuditAction.INGEST,
            portfolio_id,
            {
                "file": path.name,
                "sha256": scanned.sha256,
                "ingest_id": report.ingest_id,
                "accepted": report.accepted,
                "rejected": report.rejected,
            },
            who,
        )
        log.info(
            "ingest %d of %s into %s: %d rows read, %d accepted, %d rejected; committing",
            report.ingest_id,
            path.name,
            portfolio_id,
            report.rows_read,
            report.accepted,
            report.rejected,
            extra={"ingest_id": report.ingest_id},
        )
        progress("writing reports", 0, None)
        ingests.keep_reports(conn, report.ingest_id, report.frames())
        if stem is not None:
            _stale_staged(conn, stem)
            try:
                staged.update(_staged_reports(report.frames(), stem, f"ingest-{report.ingest_id}"))
            except ReportPathError as e:
                raise ReportPathError(f"{e}; nothing stored") from None
        _after_reports_staged(report)
    # committed: the reports go in place (a kill before this leaves them staged, the ingest marked
    # reports_pending: the next ingest or `cession ingest report` renames them)
    report.reports = _put_in_place(staged)
    report.seconds = time.perf_counter() - started
    log.info("ingest %d committed in %.1f s", report.ingest_id, report.seconds, extra={"ingest_id": report.ingest_id})
    return report


class _Staged(dict):
    """The reports under their staged names (name -> (staged, final)) until the commit: removed if
    the block fails (before or at the commit: no report of an ingest that is not stored)."""

    def __enter__(self) -> _Staged:
        return self

    def __exit__(self, kind, *_) -> None:
        if kind is not None:
            _discard(self)


def _after_reports_staged(report: IngestReport) -> None:
    """The last step before the commit (a place for tests to fail or stop the ingest)."""


def _check_writable(stem: Path) -> None:
    """The reports' folder exists (made if need be) and takes a file: checked before the file is
    read, so a mistyped --reports fails in a moment, not after the whole file."""
    probe = stem.with_name(f"{stem.name}.probe-{os.getpid()}.staged")
    try:
        stem.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except (FileExistsError, NotADirectoryError):
        raise ReportPathError(
            f"--reports {stem}: cannot write the reports there (a part of the path is a file, not a "
            "folder); nothing stored"
        ) from None
    except OSError as e:
        raise ReportPathError(
            f"--reports {stem}: cannot write the reports there ({e.strerror or e}); nothing stored"
        ) from None


@dataclass
class _Guard:
    """What keeps one debt from being stored twice: the claims of the seller's other portfolios
    (versions of this portfolio apart: a new version holds them on purpose). ``refuse``: a file of
    the same claims, or rows of claims already stored, stop the ingest (DuplicateError); otherwise
    the rows are stored and listed in the overlaps report."""

    seller: str | None
    base_portfolio: str
    refuse: bool
    stem: Path | None  # where a refusal's overlaps report goes

    def same_claims(self, conn: sa.Connection, report: IngestReport) -> None:
        """A file whose rows (those that pass the row rules) have the fingerprint of an earlier ingest's: refused."""
        same = ingests.ingests_with_fingerprint(conn, report.fingerprint)
        if same and self.refuse:
            first = same[0]
            raise DuplicateError(
                f"{report.file.name}: the same claims (seller_ref, national id, principal and due date of every row) "
                f"are already stored in portfolio {first.portfolio_id} by ingest {first.ingest_id} ({first.file_name}, "
                f"{first.ingested_at:%Y-%m-%d}); nothing stored. To store them again on purpose: --allow-duplicates "
                f"(or --new-version for the next version of {first.base_portfolio})"
            )

    def overlaps(
        self,
        conn: sa.Connection,
        rows: Callable[[pl.Series], pl.DataFrame],
        accepted_refs: Callable[[], pl.Series],
        accepted: int,
        file: Path,
    ) -> pl.DataFrame:
        """OVERLAP_SCHEMA lines of the accepted rows (``accepted_refs``: their seller_refs, asked
        for only if the seller has other portfolios; ``rows``: those rows of them, with
        KEY_COLUMNS) whose claim another portfolio of the seller holds."""
        found = [pl.DataFrame(schema=duplicates.OVERLAP_SCHEMA)]
        others = [p for p in ingests.portfolios_of_seller(conn, self.seller) if not _version_of(p, self.base_portfolio)]
        refs = accepted_refs() if others else None
        stored = pl.concat(
            [ingests.claims_with_seller_refs(conn, others[i : i + 200], refs) for i in range(0, len(others), 200)]
            or [pl.DataFrame(schema=ingests.CLAIM_KEY_SCHEMA)]
        )
        if stored.height:
            stored = stored.join(ingests.national_ids(conn, stored.get_column("debtor_id")), on="debtor_id", how="left")
            found.append(duplicates.overlaps(rows(stored.get_column("seller_ref").unique()), stored))
        found = pl.concat(found).sort("row", "portfolio_id")
        if found.height and self.refuse:
            listed = ""
            if self.stem is not None:
                try:
                    written = _put_in_place(_staged_reports({"overlaps": found}, self.stem, f"refused-{os.getpid()}"))
                    listed = f"; the rows are listed in {written['overlaps.csv']}"
                except ReportPathError as e:
                    listed = f"; the rows could not be listed: {e}"
            raise DuplicateError(
                f"{file.name}: {duplicates.described(found, accepted)}; nothing stored{listed}. To store them again on "
                "purpose: --allow-duplicates",
                found,
            )
        return found


def _store(
    conn: sa.Connection,
    read: _Read,
    report: IngestReport,
    profile: Profile,
    price: int | None,
    progress,
    book: debtor_rules.DebtorBook,
    first_claim: int,
    bare: list | None = None,
    guard: _Guard | None = None,
) -> None:
    """The accepted rows into the store, batch by batch from the spill file, in ``conn``'s
    transaction: the rules that need the store first (seller_refs it holds), then the price and
    the claims; ``bare`` tables get their keys and indexes back; the debtors (written as the file
    was read) that only rejected rows brought are taken away again."""
    portfolio_id = report.portfolio_id
    spill = read.spill
    if ingests.holds_claims(conn, portfolio_id):
        refs = spill.collect(["row", "seller_ref"])
        stored = ingests.stored_seller_refs(conn, portfolio_id, refs.get_column("seller_ref"))
        report.failures = pl.concat([report.failures, _stored_refs(refs, stored, portfolio_id)])
    report.failures = report.failures.sort("row", maintain_order=True)
    rejected = report.failures.get_column("row").unique()

    def kept(batch: pl.DataFrame) -> pl.DataFrame:
        return batch.filter(~pl.col("row").is_in(rejected.implode()))

    if guard is not None:

        def with_refs(refs: pl.Series) -> pl.DataFrame:
            return spill.collect(
                ["row", *duplicates.KEY_COLUMNS], lambda b: kept(b).filter(pl.col("seller_ref").is_in(refs.implode()))
            )

        def accepted_refs() -> pl.Series:
            return spill.collect(["row", "seller_ref"], kept).get_column("seller_ref")

        report.overlaps = guard.overlaps(conn, with_refs, accepted_refs, read.rows_read - rejected.len(), report.file)

    allocated = None
    if price is not None:
        face = spill.collect(
            ["row", "principal", "interest_at_cutoff", "costs_at_cutoff"],
            lambda b: kept(b).select(pl.col("principal") + pl.col("interest_at_cutoff") + pl.col("costs_at_cutoff")),
        )
        allocated = allocate_price(face.to_series(), price)
    ingests.ensure_portfolio(conn, portfolio_id, profile.name if profile.seller else portfolio_id, profile.seller)
    accepted = principal = purchase_price = 0
    to_store = read.rows_read - rejected.len()

    def claims() -> Iterator[pl.DataFrame]:  # made a batch ahead, on write_frames' thread
        nonlocal accepted, principal, purchase_price
        for batch in map(kept, spill.batches()):
            if allocated is not None:
                batch = batch.with_columns(allocated.slice(accepted, batch.height).alias("purchase_price"))
            batch = _claims(batch, portfolio_id, first_claim + accepted)
            accepted += batch.height
            principal += int(batch.get_column("principal").sum())
            purchase_price += int(batch.get_column("purchase_price").sum())
            yield batch

    write_frames(conn, "claims", claims(), on_batch=lambda n: progress("storing", n, to_store))
    for table in reversed(bare or []):
        progress(f"indexing {table.table}", 0, None)
        table.restore()
    if accepted + rejected.len() != read.rows_read:
        raise RuntimeError(
            f"ingest lost track of rows: {accepted} accepted + {rejected.len()} rejected != {read.rows_read} read"
        )
    report.accepted, report.rejected, report.principal, report.purchase_price = (
        accepted,
        rejected.len(),
        principal,
        purchase_price,
    )
    debtor_of = spill.collect(["debtor_id", "row"], kept)

    def named(rows: pl.Series) -> pl.DataFrame:
        return spill.collect(["row", "seller_ref", "name"], lambda b: b.filter(pl.col("row").is_in(rows.implode())))

    unused = book.settle(debtor_of.get_column("debtor_id"), debtor_of.get_column("row"), named)
    ingests.delete_debtors(conn, unused)
    report.new_debtors, report.known_debtors, report.candidates = book.new, book.known, book.candidates()
    report.conflicts = book.conflicts


class _Writes:
    """One batch's writes at a time on a thread of their own while the caller prepares the next
    (PostgreSQL: psycopg waits for the server's COPY without the GIL, so ingest's own work and the
    server's index upkeep overlap); SQLite: in the caller's thread, as its connection wants. The
    caller leaves ``conn`` alone until the block ends; the block ends only when no write is
    running (a failure is raised, after which the transaction rolls back)."""

    def __init__(self, conn: sa.Connection) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writes") if is_postgres(conn) else None
        self.running = None

    def submit(self, write: Callable, *args) -> None:
        if self.pool is None:
            write(*args)
            return
        self.wait()
        self.running = self.pool.submit(write, *args)

    def wait(self) -> None:
        running, self.running = self.running, None
        if running is not None:
            running.result()

    def __enter__(self) -> _Writes:
        return self

    def __exit__(self, kind, *_) -> None:
        try:
            if kind is None:
                self.wait()
            elif self.running is not None:
                self.running.exception()  # the write in flight is finished before the rollback; its error is not the first
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)


@dataclass
class _Read:
    spill: _Spill  # the rows that passed the row rules, typed
    batch_rows: int
    failures: pl.DataFrame
    rows_read: int
    blank_lines: int
    principal_read: int
    unparsed_principal: int
    fingerprint: duplicates.Fingerprint  # of the rows that passed the row rules
    padded_rows: int = 0


def _read(
    scanned: Scanned,
    profile: Profile,
    terms: row_rules.Terms,
    batch_rows: int | None,
    progress,
    spill: Path,
    on_good: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    prepare_good: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> _Read:
    """Every batch mapped and checked, the accepted rows (through ``on_good``, which may add
    columns, in file order) spilled to Arrow IPC in ``spill`` (memory stays bounded by a few
    batches); then the rule that needs the whole file (a seller_ref once). The row rules need
    nothing but their batch: they (and ``prepare_good``, as stateless) run on two batches at a
    time, on threads (polars works off the GIL), while this thread assigns debtors and spills the
    batch before."""
    failures = []
    rows_read = blank = principal_read = unparsed = padded = 0
    fingerprint = duplicates.Fingerprint()
    total = estimated_rows(scanned)
    batch_rows = batch_rows or BATCH_ROWS
    accepted, refs = _Spill(spill / "accepted.arrow"), _Spill(spill / "refs.arrow")
    batches = read_batches(
        scanned, encoding=profile.encoding, delimiter=profile.delimiter, sheet=profile.sheet, batch_rows=batch_rows
    )
    try:
        for checked in _in_order(_RowRules(profile, terms, prepare_good), batches):
            failures.append(checked.failures)
            accepted.append(on_good(checked.good) if on_good is not None else checked.good)
            refs.append(checked.refs)
            principal_read += checked.principal_sum
            unparsed += checked.principal_unread
            fingerprint.add(checked.fingerprint)
            rows_read += checked.rows
            blank += checked.blank
            padded += checked.padded
            progress("reading", rows_read + blank, total)
    finally:
        accepted.close()
        refs.close()
    if refs.writer is not None:  # no batch at all (e.g. one unterminated quote swallowed every row): no refs
        failures.append(_duplicate_refs(refs))
    failure_schema = row_rules.FAILURE_SCHEMA
    return _Read(
        accepted,
        batch_rows,
        pl.concat([f.select(list(failure_schema)).cast(failure_schema) for f in failures])
        if failures
        else pl.DataFrame(schema=failure_schema),
        rows_read,
        blank,
        principal_read,
        unparsed,
        fingerprint,
        padded,
    )


@dataclass
class _Checked:
    """One batch through the row rules."""

    rows: int  # rows read (blank lines apart)
    blank: int
    good: pl.DataFrame  # typed rows that break no row rule
    failures: pl.DataFrame
    refs: pl.DataFrame  # row, seller_ref of every row that has one (for the duplicate rule)
    principal_sum: int
    principal_unread: int
    fingerprint: duplicates.Fingerprint  # of ``good``
    padded: int = 0  # short rows padded (a profile's pad_short_rows)


class _RowRules:
    """A batch of text rows -> ``_Checked``; the file's columns are mapped from the first batch's header."""

    def __init__(
        self, profile: Profile, terms: row_rules.Terms, prepare_good: Callable[[pl.DataFrame], pl.DataFrame] | None
    ) -> None:
        self.profile, self.terms, self.prepare_good, self.found = profile, terms, prepare_good, None

    def first(self, batch: pl.DataFrame) -> None:
        self.found = row_rules.header_map([c for c in batch.columns if c not in META], self.profile, self.terms)

    def __call__(self, batch: pl.DataFrame) -> _Checked:
        data_columns = [c for c in batch.columns if c not in META]
        empty = (
            pl.all_horizontal(blank_to_null(pl.col(c)).is_null() for c in data_columns)
            if data_columns
            else pl.lit(True)
        )
        blank = batch.filter(empty).height
        batch = batch.filter(~empty)
        rows = batch.height
        batch, miscounted, padded = row_rules.field_count(
            batch, self.found.get("seller_ref"), self.profile.pad_short_rows
        )
        frame = row_rules.canonical(batch, self.found, self.profile)
        good, bad, (principal_sum, principal_unread) = row_rules.check(frame, self.terms, self.profile)
        refs = frame.select(ROW, "seller_ref").filter(pl.col("seller_ref").is_not_null())
        fingerprint = duplicates.fingerprint_of(good)
        good = self.prepare_good(good) if self.prepare_good is not None else good
        if miscounted.height:
            bad = pl.concat([bad.select(list(row_rules.FAILURE_SCHEMA)).cast(row_rules.FAILURE_SCHEMA), miscounted])
        return _Checked(
            rows,
            blank,
            good,
            detached(bad),
            refs,
            principal_sum,
            principal_unread + miscounted.height,
            fingerprint,
            padded,
        )


def _in_order(rules: _RowRules, batches, workers: int = 2):
    """``rules`` over ``batches``, ``workers`` batches at a time on threads, the results in order.
    The first batch maps the header here, so a missing column is raised before any thread starts."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    batches = iter(batches)
    first = next(batches, None)
    if first is None:
        return
    rules.first(first)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest-rules") as pool:
        running = deque([pool.submit(rules, first)])
        for batch in batches:
            if len(running) >= workers:
                yield running.popleft().result()
            running.append(pool.submit(rules, batch))
        while running:
            yield running.popleft().result()


class _Spill:
    """Batches appended to an Arrow IPC file, uncompressed (written at the speed of a copy; the
    file lives only as long as the ingest), typed as the first batch."""

    def __init__(self, path: Path) -> None:
        self.path, self.writer, self.schema = path, None, None

    def append(self, frame: pl.DataFrame) -> None:
        import pyarrow as pa

        table = frame.to_arrow()
        if self.writer is None:
            self.schema = table.schema
            self.writer = pa.ipc.new_file(str(self.path), self.schema)
        self.writer.write_table(table.cast(self.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def batches(self, columns: list[str] | None = None, *, owned: bool = False) -> Iterator[pl.DataFrame]:
        """The batches appended, in order (``columns`` of them): read from the file, not memory-mapped,
        so memory holds one batch at a time, not the pages of a whole mapped file. A batch as read
        is one buffer, which any part of any of its columns keeps whole; ``owned``: each column is
        copied into buffers of its own (for parts kept after the batch)."""
        import pyarrow as pa

        if self.writer is None:
            return
        fields = None if columns is None else sorted(self.schema.get_field_index(c) for c in columns)
        with pa.OSFile(str(self.path)) as f:
            reader = pa.ipc.open_file(f, options=pa.ipc.IpcReadOptions(included_fields=fields))
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                if owned:  # concatenating always copies
                    batch = pa.RecordBatch.from_arrays(
                        [pa.concat_arrays([c, c.slice(0, 0)]) for c in batch.columns], schema=batch.schema
                    )
                frame = pl.from_arrow(batch)
                yield frame if columns is None else frame.select(columns)

    def collect(
        self, columns: list[str] | None, each: Callable[[pl.DataFrame], pl.DataFrame] = lambda b: b
    ) -> pl.DataFrame:
        """``each`` of the batches (``columns`` of them), in one frame (``each`` keeps it small).
        The batches are ``owned`` and each part ``detached`` (polars strings are views): the rows
        kept of a batch keep nothing else of it (10M rows: 1.1 GB less at the end)."""
        frames = [detached(each(b)) for b in self.batches(columns, owned=True)]
        if frames:
            return pl.concat(frames)
        empty = pl.from_arrow(self.schema.empty_table())
        return each(empty if columns is None else empty.select(columns))


def _duplicate_refs(refs: _Spill) -> pl.DataFrame:
    """Every row of a seller_ref that appears more than once: which one is the claim is for the seller to say."""
    # counted by a 64-bit hash of the ref, not the ref: 8 bytes a row instead of the strings; the
    # few rows whose hash repeats are then read again and compared by the refs themselves
    hashed = refs.collect(None, lambda b: b.select(pl.col("seller_ref").hash(seed=7).alias("h")))
    twice = hashed.group_by("h").agg(pl.len().alias("n")).filter(pl.col("n") > 1).get_column("h").implode()
    suspects = refs.collect(None, lambda b: b.filter(pl.col("seller_ref").hash(seed=7).is_in(twice)))
    dupes = suspects.filter(pl.col("seller_ref").is_duplicated())
    return dupes.select(
        pl.col(ROW).alias("row"),
        "seller_ref",
        pl.lit("seller_ref").alias("column"),
        pl.lit("seller_ref appears more than once in the file").alias("rule"),
        pl.col("seller_ref").alias("value"),
    ).sort("row")


def _stored_refs(accepted: pl.DataFrame, stored: pl.Series, portfolio_id: str) -> pl.DataFrame:
    taken = accepted.filter(pl.col("seller_ref").is_in(stored.implode()))
    return taken.select(
        "row",
        "seller_ref",
        pl.lit("seller_ref").alias("column"),
        pl.lit(f"seller_ref already stored in portfolio {portfolio_id}").alias("rule"),
        pl.col("seller_ref").alias("value"),
    ).cast(row_rules.FAILURE_SCHEMA)


def _claims(rows: pl.DataFrame, portfolio_id: str, first_claim: int) -> pl.DataFrame:
    """docs/data-contract.md `claims` of the accepted rows, new claim_ids in file order, checked against the
    engine's contract (a failure here is a bug in ingest's rules, and stores nothing)."""
    rows = rows.with_row_index("claim_id", offset=first_claim).with_columns(
        pl.col("claim_id").cast(pl.Int64), pl.lit(portfolio_id).alias("portfolio_id")
    )
    claims = conform(rows, "claims", CLAIMS)
    check_claims(claims)
    return claims


def _version_of(portfolio_id: str, portfolio: str) -> bool:
    """Whether ``portfolio_id`` is ``portfolio`` or one of its versions (``<portfolio>@v<n>``)."""
    return portfolio_id == portfolio or portfolio_id.startswith(f"{portfolio}@v")


def _seen_before(
    scanned: Scanned,
    earlier: list,
    portfolio: str,
    allow_duplicates: bool,
    started: float,
    finished: list[str] | None = None,
) -> IngestReport | None:
    """What to do with a file whose bytes ``earlier`` ingests stored: into the same portfolio (or one
    of its versions) a rerun, recognised (the report); into another name refused, a mistyped name
    most likely (``DuplicateError``), unless ``allow_duplicates`` (None: ingest it)."""
    here = [e for e in earlier if _version_of(e.portfolio_id, portfolio)]
    if here:
        return _recognised(scanned, here, started, finished)
    if allow_duplicates:
        return None
    first = earlier[0]
    raise DuplicateError(
        f"{scanned.path.name}: this very file (sha256 {scanned.sha256[:12]}…) is already stored in portfolio "
        f"{first.portfolio_id} by ingest {first.ingest_id} ({first.ingested_at:%Y-%m-%d}); nothing stored in "
        f"{portfolio}. To store its claims again on purpose: --allow-duplicates"
    )


def _recognised(scanned: Scanned, earlier: list, started: float, finished: list[str] | None = None) -> IngestReport:
    first = earlier[0]
    report = IngestReport(
        scanned.path,
        scanned.sha256,
        first.portfolio_id,
        first.version,
        IngestStatus.ALREADY_INGESTED,
        first.rows_read,
        0,
        first.accepted,
        first.rejected,
        pl.DataFrame(schema=row_rules.FAILURE_SCHEMA),
        pl.DataFrame(schema=debtor_rules.CANDIDATE_SCHEMA),
        None,
        principal=first.principal,
        purchase_price=first.purchase_price,
        ingest_id=first.ingest_id,
        encoding=scanned.encoding,
    )
    report.already = {
        "ingest_id": first.ingest_id,
        "portfolio": first.portfolio_id,
        "version": first.version,
        "at": first.ingested_at.isoformat(),
        "by": first.actor,
        "versions": [e.portfolio_id for e in earlier],
    }
    report.finished = finished or []
    report.seconds = time.perf_counter() - started
    log.info(
        "%s is already ingested into %s (ingest %d): nothing stored",
        scanned.path.name,
        first.portfolio_id,
        first.ingest_id,
        extra={"ingest_id": first.ingest_id},
    )
    return report


def write_reports(report: IngestReport, stem: Path) -> dict[str, Path]:
    """The reports of ``report`` (REPORT_FILES: the rejects as CSV and Parquet, the debtor
    candidates, the name conflicts, the overlaps) beside ``stem``, each file replaced whole; what was written."""
    return _put_in_place(_staged_reports(report.frames(), Path(stem), f"written-{os.getpid()}"))


def _staged_reports(
    frames: dict[str, pl.DataFrame], stem: Path, tag: str, only: list[str] | None = None
) -> dict[str, tuple[Path, Path]]:
    """REPORT_FILES (``only`` these) of ``frames`` written under staged names (``tag`` in them) beside their final
    ones, on disk (fsync) before this returns: name -> (staged, final). Nothing is left behind
    if one cannot be written (ReportPathError)."""
    staged = {}
    try:
        stem.parent.mkdir(parents=True, exist_ok=True)
        for name, report in REPORT_FILES.items():
            if report not in frames or (only is not None and name not in only):
                continue
            final = stem.with_name(f"{stem.name}.{name}")
            staged[name] = (_staged_name(final, tag), final)
            with open(staged[name][0], "wb") as out:
                if name.endswith(".parquet"):
                    frames[report].write_parquet(out)
                else:
                    frames[report].write_csv(out)
                out.flush()
                os.fsync(out.fileno())
    except OSError as e:
        _discard(staged)
        raise ReportPathError(f"--reports {stem}: cannot write the reports there ({e.strerror or e})") from None
    return staged


def _staged_name(final: Path, tag: str) -> Path:
    return final.with_name(f"{final.name}.{tag}.staged")


def _put_in_place(staged: dict[str, tuple[Path, Path]]) -> dict[str, Path]:
    """Staged report files renamed to their final names (each replaced whole); name -> final. A
    staged file already gone to its final name is in place (the next ingest may finish an ingest's
    reports the moment it commits)."""
    for temporary, final in staged.values():
        try:
            os.replace(temporary, final)
        except FileNotFoundError:
            if not final.exists():
                raise
    return {name: final for name, (_, final) in staged.items()}


def _discard(staged: dict[str, tuple[Path, Path]]) -> None:
    for temporary, _ in staged.values():
        temporary.unlink(missing_ok=True)


def _stale_staged(conn: sa.Connection, stem: Path) -> None:
    """Staged reports beside ``stem`` of ingests that never committed (a kill before the commit):
    removed. Called under the ingest lock, so no other ingest is between its staging and its commit."""
    pending = {i.ingest_id for i in ingests.with_reports_pending(conn)}
    for name in REPORT_FILES:
        for found in stem.parent.glob(f"{glob.escape(stem.name)}.{name}.ingest-*.staged"):
            tag = found.name[len(f"{stem.name}.{name}.ingest-") : -len(".staged")]
            if not (tag.isdigit() and int(tag) in pending):
                found.unlink(missing_ok=True)


def finish_reports(conn: sa.Connection) -> list[str]:
    """The reports of committed ingests that were still staged (the command stopped between the
    commit and the renames) put in place: renamed if the staged files are there, else written
    again from the store if the final ones are missing. In the caller's transaction, under the
    ingest lock. One line per ingest whose reports needed it, saying so.

    An ingest's own command renames its reports just after the commit but leaves the record's
    ``reports_pending`` to this (the next ingest, which holds the lock anyway): writing it then
    would wait for whatever ingest holds the store's lock by then."""
    said = []
    for record in ingests.with_reports_pending(conn):
        stem = Path(record.reports_stem)
        try:
            missing, renamed = [], 0
            for name in REPORT_FILES:
                final = stem.with_name(f"{stem.name}.{name}")
                staged = _staged_name(final, f"ingest-{record.ingest_id}")
                if staged.exists():
                    os.replace(staged, final)
                    renamed += 1
                elif not final.exists():
                    missing.append(name)
            if missing:
                frames = ingests.kept_reports(conn, record.ingest_id, REPORT_SCHEMAS)
                _put_in_place(_staged_reports(frames, stem, f"recovered-{os.getpid()}", only=missing))
        except (OSError, ReportPathError) as e:
            said.append(
                f"ingest {record.ingest_id}: its reports are still staged beside {stem} and cannot be put in "
                f"place ({e}); `cession ingest report {record.ingest_id}` writes them again"
            )
            continue
        ingests.reports_in_place(conn, record.ingest_id)
        if renamed or missing:  # else the ingest's own command put them in place, as it should
            said.append(
                f"ingest {record.ingest_id} ({record.file_name}): its reports were not in place (its command "
                f"stopped after the commit): now they are ({stem}.*)"
            )
    return said


def _unfinished(record) -> bool:
    """Whether an ingest's report files are not (all) in place: one still staged, or one missing."""
    stem = Path(record.reports_stem)
    finals = [stem.with_name(f"{stem.name}.{name}") for name in REPORT_FILES]
    return any(_staged_name(f, f"ingest-{record.ingest_id}").exists() or not f.exists() for f in finals)


def rewrite_reports(
    engine: sa.Engine, ingest_id: int, stem: Path | str | None = None
) -> tuple[object, dict[str, Path], list[str]]:
    """The reports of a stored ingest written again from the store, to ``stem`` (default: where
    they went first, else ./<file name>): (its ingest_files row, the files written, the lines of
    finish_reports, which runs first)."""
    finished = []
    with engine.connect() as conn:
        pending = ingests.with_reports_pending(conn)
    if any(_unfinished(r) for r in pending):  # the store's ingest lock only then
        with engine.begin() as conn:
            ingests.lock(conn)
            finished = finish_reports(conn)
    with engine.connect() as conn:
        record = ingests.ingest_of(conn, ingest_id)
        if record is None:
            raise IngestError(f"ingest {ingest_id}: no such ingest in the store")
        if "report_lines" not in (record.details or {}):
            raise IngestError(
                f"ingest {ingest_id} ({record.file_name}) was stored before its report lines were kept "
                "in the store (Cession before migration 0005): its reports cannot be written again"
            )
        frames = ingests.kept_reports(conn, ingest_id, REPORT_SCHEMAS)
    lines = {name: frame.height for name, frame in frames.items()}
    if lines != record.details["report_lines"]:
        raise RuntimeError(
            f"ingest {ingest_id}: the store keeps {lines} report lines, the ingest wrote {record.details['report_lines']}"
        )
    stem = Path(stem if stem is not None else record.reports_stem or record.file_name).absolute()
    return record, _put_in_place(_staged_reports(frames, stem, f"rewrite-{os.getpid()}")), finished
