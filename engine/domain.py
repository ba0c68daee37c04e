"""The closed choices of Cession, each one registry that everything else derives from.

A closed choice is a ``Choice`` (a ``StrEnum``): a member's value is its public spelling
(docs/data-contract.md's, stored as is), its position in the enum is its ``code`` (the int8 a kernel sees;
codes are internal: never store them), and the values after the name are its properties, one column of
the table each. What derives from each registry:

- ``InterestBasis``: the data contract's check (engine/schema.py, so the engine's validation), the rule
  tables the engine loads (engine/rules/loader.py), the kernel's rate rows per basis (``KernelRules``),
  which bases need a contractual rate (engine/validation.py, ingest/rows.py, ``cession interest``), the
  store's CHECK (engine/store/models.py), seller profiles' values (ingest/profiles.py), the command
  line's help and messages, the test strategies.
- ``LimitationKind``, ``EventKind``, ``DebtorKind``, ``Bucket``: likewise the contract's checks, the
  models' CHECKs, profiles, help texts; ``engine/kernels/codes.py`` repeats the codes the kernels test
  for (kernels import nothing of ours), and tests/engine/test_kernel_contract.py holds them equal.

Adding a value, e.g. an interest basis ``x``:

1. append a member here, after the others (a member's position is its code: codes never move);
2. ship the data it names: ``engine/rules/data/x.csv`` (or, for a table read as another plus dated
   offsets, ``x_offset.csv``), with sources and its ``# last_value_still_valid_on:`` line;
3. add a migration allowing ``x`` in the store's CHECK: copy
   ``engine/store/migrations/versions/0004_interest_time_barred.py``'s ``_bases`` and write the
   registry's values of that day into it as a literal tuple (``tuple(InterestBasis)``), never read from
   here: a migration must build the same schema whatever the registry holds later.
   tests/test_registries.py fails until the latest migration allows exactly the registry's values.

tests/test_registries.py walks every place that must know the interest bases (the data contract, the
rule tables, the kernel's rows, the store, the migrations, the profiles, the command line's help, the
plain-Python reference in tests/reference/, the test strategies, docs/) and fails naming the one that
does not; tests/test_generator.py asks the synthetic generator to draw every basis. The reference and
docs/ are written apart on purpose (an oracle that derives from the code checks nothing): a new basis
gets its rate rule there too, and the generator a share of the claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, get_args


class Choice(StrEnum):
    """A closed choice whose members carry their properties: ``NAME = "value", property, ...``; a
    subclass's ``__init__`` takes the properties (after the value) and names them."""

    def __new__(cls, value: str, *_properties: object) -> Choice:
        member = str.__new__(cls, value)
        member._value_ = value
        return member

    @property
    def code(self) -> int:
        """The int8 code a kernel sees: the member's position."""
        return type(self)._member_names_.index(self._name_)

    @classmethod
    def spelled(cls, members: tuple[Choice, ...] | None = None, last: str = "or") -> str:
        """The values as a sentence: ``a, b or c`` (for help texts and messages)."""
        values = [m.value for m in (cls if members is None else members)]
        return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} {last} {values[-1]}"


class DebtorKind(Choice):
    CONSUMER = "consumer", "PESEL"
    BUSINESS = "business", "NIP"

    def __init__(self, _value: str, national_id: str) -> None:
        #: the national id a debtor of this kind carries (checked by its rules in ingest/identifiers.py)
        self.national_id = national_id


@dataclass(frozen=True)
class Rates:
    """Where an interest basis' rate of the day comes from: the rule table ``table``, the file
    ``engine/rules/data/<table>.csv``; or, with ``over``, the table ``over`` plus the dated offsets (bp)
    of ``<table>_offset.csv``."""

    table: str
    over: str | None = None

    @property
    def files(self) -> tuple[str, ...]:
        """The files it is read from (without ``.csv``)."""
        return (self.table,) if self.over is None else (self.over, f"{self.table}_offset")


class InterestBasis(Choice):
    """How a claim earns interest (docs/engine.md §2). Columns: the rates; whether the table caps
    the claim's own contractual rate (rather than being the rate); whether the claim's
    ``contractual_rate_bp`` is its rate (required then, ignored otherwise); one line for people."""

    # value, rates, capped, contract rate, about
    NONE = "none", None, False, False, "no interest"
    STATUTORY_LATE = (
        "statutory_late",
        Rates("statutory_late"),
        False,
        False,
        "statutory late interest (odsetki ustawowe za opóźnienie, art. 481 § 2 KC)",
    )
    COMMERCIAL_LATE = (
        "commercial_late",
        Rates("commercial_late"),
        False,
        False,
        "late interest in commercial transactions (act of 8 March 2013)",
    )
    CONTRACTUAL = (
        "contractual",
        Rates("maximum_late"),
        True,
        True,
        "the contract's rate, capped each day at maximum late interest (art. 481 § 2¹ KC)",
    )
    COMMERCIAL_LATE_MEDICAL = (
        "commercial_late_medical",
        Rates("commercial_late_medical", over="commercial_late"),
        False,
        False,
        "commercial_late less 2 pp from 2020, for a public medical entity (art. 4 pkt 3 of the 2013 act)",
    )

    def __init__(self, _value: str, rates: Rates | None, capped: bool, contract_rate: bool, about: str) -> None:
        #: the rate table deciding the rate; None: no interest
        self.rates = rates
        #: the table is a ceiling over the claim's contractual rate, not the rate itself
        self.capped = capped
        #: the claim's contractual_rate_bp is its rate: required for this basis, ignored for the others
        self.contract_rate = contract_rate
        self.about = about


#: The bases whose rate is the claim's own contractual rate (it must carry ``contractual_rate_bp``).
CONTRACT_RATE_BASES: tuple[InterestBasis, ...] = tuple(b for b in InterestBasis if b.contract_rate)


class LimitationKind(Choice):
    """The limitation period a claim runs under (art. 118 KC; years in engine/rules/data/limitation_periods.csv).
    Columns: whether it is a value of ``claims.limitation_kind``; whether the years are the claim's own
    ``limitation_years``; one line for people."""

    GENERAL = "general", True, False, "the general period (art. 118 KC)"
    PERIODIC = "periodic", True, False, "periodic performances (art. 118 KC); also each day's interest"
    BUSINESS = "business", True, False, "a claim connected with running a business (art. 118 KC)"
    SALES = "sales", True, False, "the price of goods sold by a business (art. 554 KC)"
    CUSTOM = "custom", True, True, "the claim's own limitation_years"
    #: kept last so the claim kinds keep their codes
    TITLE = "title", False, False, "the run that starts from an enforcement title (art. 125 KC), not a claim's kind"

    def __init__(self, _value: str, claim: bool, own_years: bool, about: str) -> None:
        #: a value of claims.limitation_kind (``title`` is only the kind of a run)
        self.claim = claim
        #: the period is the claim's own ``limitation_years`` (required then), not the law's
        self.own_years = own_years
        self.about = about


CLAIM_LIMITATION_KINDS: tuple[LimitationKind, ...] = tuple(k for k in LimitationKind if k.claim)
#: The claim kinds whose period is the claim's own ``limitation_years`` (it must carry them).
OWN_YEARS_KINDS: tuple[LimitationKind, ...] = tuple(k for k in CLAIM_LIMITATION_KINDS if k.own_years)


class EventKind(Choice):
    """What happened to a claim (docs/data-contract.md ``events``). Columns: whether it carries an ``amount``
    (> 0, grosz; the others carry none); whether it acts on the limitation clock (the kernel takes
    every code from ``acknowledgment``'s on as such)."""

    PAYMENT = "payment", True, False
    REVERSAL = "reversal", False, False
    COST = "cost", True, False
    INTEREST_WAIVER = "interest_waiver", True, False
    CAPITALIZATION = "capitalization", False, False
    WRITE_OFF = "write_off", False, False
    ACKNOWLEDGMENT = "acknowledgment", False, True
    COURT_FILING = "court_filing", False, True
    PROCEEDINGS_END = "proceedings_end", False, True
    TITLE = "title", False, True
    ENFORCEMENT_FILING = "enforcement_filing", False, True
    ENFORCEMENT_END = "enforcement_end", False, True

    def __init__(self, _value: str, amount: bool, limitation: bool) -> None:
        self.amount = amount
        self.limitation = limitation


#: Event kinds whose ``amount`` must be present and > 0 (docs/data-contract.md); all others carry none.
AMOUNT_EVENT_KINDS: frozenset[EventKind] = frozenset(k for k in EventKind if k.amount)
#: Event kinds that act on the limitation clock (`cession limitation --event`).
LIMITATION_EVENT_KINDS: tuple[EventKind, ...] = tuple(k for k in EventKind if k.limitation)


class Bucket(Choice):
    """A balance a payment can go to (art. 451 § 1 KC)."""

    COSTS = "costs"
    INTEREST = "interest"
    PRINCIPAL = "principal"


#: Where the engine runs (engine/executors.py): explicitly chosen, never by what is installed.
ExecutorName = Literal["local", "ray"]
EXECUTOR_NAMES: tuple[ExecutorName, ...] = get_args(ExecutorName)


class RunStatus(StrEnum):
    """An engine run's status (``engine_runs.status``): ``running`` until it commits ``succeeded`` or
    records ``failed`` (also when its process died: the next run finds it)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PlacementQueue(Choice):
    """Where a placed claim is worked (``placements.queue``). Columns: whether it is a legal queue
    (never for a time-barred consumer claim, art. 117 § 2¹ KC); one line for people. ``bailiff``
    (never written) became ``enforcement`` in migration 0006."""

    AGENCY = "agency", False, "amicable collection by an external agency"
    EPU = "epu", True, "the e-court's electronic payment-order procedure (art. 505²⁸ KPC)"
    COURT = "court", True, "an ordinary suit (or the order-for-payment procedure)"
    ENFORCEMENT = "enforcement", True, "a bailiff's enforcement on a title"
    REMINDER = "reminder", False, "letters, calls and texts from the purchaser itself"

    def __init__(self, _value: str, legal: bool, about: str) -> None:
        self.legal = legal
        self.about = about


LEGAL_QUEUES: tuple[PlacementQueue, ...] = tuple(q for q in PlacementQueue if q.legal)


class DebtorFlag(Choice):
    """A value of ``debtors.flags``. Columns: whether every claim of a flagged debtor is held (no
    strategy rule can place or sue it); one line for people."""

    DECEASED = "deceased", True, "the debtor died: the heirs and the estate are established first"
    BANKRUPT = "bankrupt", True, "consumer or business bankruptcy: claims go to the trustee, not to collection"
    DISPUTED = "disputed", True, "the debtor disputes the claim: it is examined before any contact"
    GDPR_RESTRICTED = "gdpr_restricted", True, "processing restricted (art. 18 GDPR): only storage"

    def __init__(self, _value: str, holds: bool, about: str) -> None:
        self.holds = holds
        self.about = about


#: The horizon of the payments a run keeps per claim (``claim_payments``: what each claim paid in the
#: last this many days, and its payments before them): allocation learns its scores over it.
PAYMENTS_HORIZON_DAYS = 90

#: The flags that hold every claim of their debtor, whatever a strategy says.
HOLDING_FLAGS: tuple[DebtorFlag, ...] = tuple(f for f in DebtorFlag if f.holds)


class ActionKind(Choice):
    """What an allocation decides for a claim (allocation/). Columns: whether it opens a placement
    in the store; one line for people."""

    PLACE = "place", True, "placed with an agency of a pool"
    LEGAL = "legal", True, "a legal queue: epu, court or enforcement"
    REMINDER = "reminder", True, "the purchaser's own reminder queue"
    HOLD = "hold", False, "held: nobody works the claim (the reason says why)"
    LEAVE = "leave", False, "left as it is: nothing new is done"
    KEEP = "keep", False, "its open placement stays where it is"

    def __init__(self, _value: str, places: bool, about: str) -> None:
        self.places = places
        self.about = about


class HoldReason(Choice):
    """Why a claim is held: a debtor's holding flag (the hold no rule overrides), or a strategy
    rule's own reason."""

    DECEASED = "deceased", True
    BANKRUPT = "bankrupt", True
    DISPUTED = "disputed", True
    GDPR_RESTRICTED = "gdpr_restricted", True
    COMPLAINT = "complaint", False
    SETTLEMENT = "settlement", False
    REVIEW = "review", False

    def __init__(self, _value: str, from_flag: bool) -> None:
        #: the reason is the debtor's flag of the same name (``DebtorFlag``)
        self.from_flag = from_flag


class RecallReason(Choice):
    """Why a placement ended (``placements.recall_reason``)."""

    NO_PAYMENT = "no_payment", "no payment for the strategy's recall_after_days"
    END_OF_TERM = "end_of_term", "the agency's term for a case ended"
    ON_DEMAND = "on_demand", "recalled by `cession recall`"
    HOLD = "hold", "a hold appeared (a debtor's flag)"
    PAID = "paid", "nothing is owed any more"
    AGENCY_INACTIVE = "agency_inactive", "the agency was deactivated"
    RETURNED = "returned", "returned by the agency (POST /v1/agency/placements/{claim_id}/return), with its code"

    def __init__(self, _value: str, about: str) -> None:
        self.about = about


class ReturnReason(Choice):
    """Why an agency gives a case back (the HTTP API's return; ``placements.recall_reason`` is
    ``returned:<code>``)."""

    UNCOLLECTABLE = "uncollectable", "worked to the end of what the agency can do, nothing to collect"
    NO_CONTACT = "no_contact", "the debtor cannot be reached at any known address, phone or e-mail"
    DISPUTED = "disputed", "the debtor disputes the claim"
    DECEASED = "deceased", "the debtor has died"
    BANKRUPT = "bankrupt", "the debtor is in bankruptcy or restructuring"
    WRONG_DEBTOR = "wrong_debtor", "the person reached is not the debtor"
    SETTLED_ELSEWHERE = "settled_elsewhere", "the debtor shows the claim paid or settled with someone else"
    OTHER = "other", "another reason, in the note"

    def __init__(self, _value: str, about: str) -> None:
        self.about = about


class AgencyChange(Choice):
    """What happened to a case of an agency (``agency_changes.change``): the agency's change feed."""

    PLACED = "placed", "placed with the agency"
    RECALLED = "recalled", "recalled by the purchaser (a rule, a hold, on demand; recall_reason says)"
    RETURNED = "returned", "returned by the agency"

    def __init__(self, _value: str, about: str) -> None:
        self.about = about


class JobKind(StrEnum):
    """Work started over the HTTP API and done in the background (``jobs.kind``)."""

    INGEST = "ingest"
    RUN = "run"
    ALLOCATE = "allocate"


class JobStatus(StrEnum):
    """A job's status (``jobs.status``): ``queued``, ``running``, then ``succeeded`` or ``failed``
    (also when the server that ran it stopped: the next server finds it)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class KeyRole(StrEnum):
    """What an API key may do (``api_keys.role``; the HTTP API's routes say which roles they admit):
    ``admin`` everything, keys included; ``analyst`` the purchaser's reads and runs; ``agency`` an
    agency's integration, confined to the claims placed with that agency; ``legal`` the legal queues
    and the filings, titles and enforcement they produce."""

    ADMIN = "admin"
    ANALYST = "analyst"
    AGENCY = "agency"
    LEGAL = "legal"


def code_of(member: Choice) -> int:
    """The kernel code of an enum member: its position in its enum."""
    return member.code


class LineStatus(Choice):
    """Where a line of a bank statement stands (``statement_lines.status``; docs/payments.md). A
    statement's refused lines are not stored as lines: they are listed with the import that read
    them (``statement_refusals``), and a later import refuses them again with the same reason."""

    POSTED = "posted", "matched and posted as events (payments, or the reversals of a return)"
    OPEN = "open", "in suspense: nobody's yet (a candidate claim may be named for a person to confirm)"
    ASSIGNED = "assigned", "taken out of suspense by a person and posted to a claim (`cession suspense assign`)"
    REFUNDED = "refunded", "taken out of suspense by a person: the money is sent back (`cession suspense refund`)"
    RETURNED = "returned", "taken out of suspense by the bank: a return of the credit came in a later statement"
    SETTLED = "settled", "a return that took a credit out of suspense (no event: the credit had none)"

    def __init__(self, _value: str, about: str) -> None:
        self.about = about


class MatchedBy(Choice):
    """How a statement line found its claims (``statement_lines.matched_by``), in the order tried."""

    VIRTUAL_ACCOUNT = "virtual_account", "the debtor's virtual account was credited"
    SELLER_REF = "seller_ref", "a claim's seller_ref is in the title"
    CLAIM_ID = "claim_id", "a claim's id is in the title"
    NATIONAL_ID = "national_id", "the debtor's PESEL or NIP is in the title"
    RETURN = "return", "a return of a credit posted before: its events reversed"
    PERSON = "person", "assigned by a person from suspense"

    def __init__(self, _value: str, about: str) -> None:
        self.about = about


class SplitRule(Choice):
    """How a payment to a debtor (not to one claim) is split over the debtor's open claims."""

    OLDEST_DUE_FIRST = "oldest_due_first", "the claim due first gets paid first (ties: the smaller claim id)"
    LARGEST_BALANCE_FIRST = "largest_balance_first", "the claim with the largest balance gets paid first"
    PROPORTIONAL = "proportional", "each open claim in proportion to its balance (grosz by largest remainder)"

    def __init__(self, _value: str, about: str) -> None:
        self.about = about


class PlanStatus(Choice):
    """A payment plan's status (``payment_plans.status``; docs/plans.md says how the daily update
    decides it). Columns: whether the plan is over (the daily update no longer looks at it); one
    line for people."""

    ACTIVE = "active", False, "signed; its instalments are being paid"
    KEPT = "kept", True, "every instalment paid, none left unpaid past the plan's break_after_days"
    BROKEN = "broken", True, "an instalment still unpaid more than break_after_days after its day"
    CANCELLED = "cancelled", True, "cancelled by the purchaser (`cession plans cancel`)"

    def __init__(self, _value: str, over: bool, about: str) -> None:
        self.over = over
        self.about = about


class InstalmentStatus(Choice):
    """An instalment of a plan as of a day (computed, never stored: docs/plans.md)."""

    PENDING = "pending", "not paid yet, its day (plus the grace days) not passed"
    PAID = "paid", "paid in full by its day plus the plan's grace days"
    PAID_LATE = "paid_late", "paid in full after its grace days, before the plan broke"
    LATE = "late", "unpaid past its grace days, not yet break_after_days past its day"
    MISSED = "missed", "unpaid break_after_days after its day: the plan broke"

    def __init__(self, _value: str, about: str) -> None:
        self.about = about


class SettlementStatus(Choice):
    """A settlement offer's status (``settlements.status``)."""

    OPEN = "open", False, "offered; the amount not paid yet, its day not passed"
    PAID = "paid", True, "the amount paid by its day: the rest written off"
    LAPSED = "lapsed", True, "its day passed before the amount was paid"
    CANCELLED = "cancelled", True, "withdrawn by the purchaser"

    def __init__(self, _value: str, over: bool, about: str) -> None:
        self.over = over
        self.about = about


class PromiseStatus(Choice):
    """A promise to pay's status (``promises.status``)."""

    OPEN = "open", False, "made; the amount not paid yet, its day not passed"
    KEPT = "kept", True, "the amount paid by its day"
    BROKEN = "broken", True, "its day passed before the amount was paid"
    CANCELLED = "cancelled", True, "withdrawn (recorded by mistake)"

    def __init__(self, _value: str, over: bool, about: str) -> None:
        self.over = over
        self.about = about
