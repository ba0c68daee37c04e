"""Integer codes the kernels see. They mirror the order of the enums in engine/domain.py
(tests/engine/test_kernel_contract.py checks that they agree); kernels import nothing else of ours."""

# EventKind
PAYMENT = 0
REVERSAL = 1
COST = 2
INTEREST_WAIVER = 3
CAPITALIZATION = 4
WRITE_OFF = 5
ACKNOWLEDGMENT = 6
COURT_FILING = 7
PROCEEDINGS_END = 8
TITLE = 9
ENFORCEMENT_FILING = 10
ENFORCEMENT_END = 11

# Bucket
COSTS = 0
INTEREST = 1
PRINCIPAL = 2

# LimitationKind (claim kinds 0..4, then the run kind of a title)
LIMITATION_PERIODIC = 1  # also the run of each day's interest (art. 118 KC, III CZP 42/04)
LIMITATION_TITLE = 5

# Limitation trace: what each step did (for `cession limitation`)
STEP_START = 0
STEP_NEW_RUN = 1  # acknowledgment, or the last pending proceeding ended: a new run from the event day
STEP_SUSPEND = 2
STEP_TITLE = 3
STEP_BARRED = 4  # the event came after the end: no effect (a barred claim is not revived)
STEP_NO_EFFECT = 5  # e.g. an acknowledgment while suspended, an end with no matching filing
STEP_STILL_SUSPENDED = 6  # one proceeding ended, another is still pending
STEP_ABSORBED = 7  # dated before the claim's title_date: absorbed by the title (art. 124 § 2, 125 § 1 KC)

# How a run's end was found (art. 118 KC and art. 5 of the 2018 amending act)
END_NEW_LAW = 0  # the run started on or after the reform day
END_OLD_EXPIRED = 1  # started before; the old-law end fell before the reform day
END_OLD_EARLIER = 2  # new period shorter; the old-law end came first
END_FROM_REFORM = 3  # new period shorter; a new-law run from the reform day came first
END_NEW_FROM_START = 4  # new period not shorter: new-law end of the run from its start
