"""The closed choices of contacts (``engine.domain.Choice``: the value is the stored spelling)."""

from __future__ import annotations

from engine.domain import Choice


class Channel(Choice):
    """How a debtor is reached. Columns: the debtors' column that holds the address; one line for people."""

    LETTER = "letter", "street", "a letter printed and posted by the print house"
    EMAIL = "email", "email", "an e-mail through the purchaser's SMTP server"
    SMS = "sms", "phone", "a text message through the SMS provider"
    PHONE = "phone", "phone", "a call by the purchaser's own staff (planned, not dialled by Cession)"

    def __init__(self, _value: str, address: str, about: str) -> None:
        self.address = address
        self.about = about


class Template(Choice):
    """A kind of letter or message (contacts/templates/<value>.typ.j2 and <value>.txt.j2)."""

    NOTICE = "notice", "zawiadomienie o przelewie wierzytelności (art. 512 KC)"
    REMINDER = "reminder", "przypomnienie o zaległej płatności"
    DEMAND = "demand", "przedsądowe wezwanie do zapłaty"

    def __init__(self, _value: str, about: str) -> None:
        self.about = about


class StepWhen(Choice):
    """What makes a step apply to a claim."""

    NO_NOTICE = "no_notice", "the claim was never told of its assignment"
    LEGAL_QUEUE = "legal_queue", "an open placement in a legal queue, not yet demanded in it"
    REMINDER_QUEUE = "reminder_queue", "an open placement in the reminder queue, not reminded for every_days"

    def __init__(self, _value: str, about: str) -> None:
        self.about = about


class ContactStatus(Choice):
    """A contact's status (``contacts.status``). Columns: whether it counts as a contact of the
    debtor for the caps (it went out, or is queued to go out)."""

    HELD = "held", False, "refused by a rule (``rule`` says which): never sent"
    QUEUED = "queued", True, "planned for its day, waiting for its window"
    SENT = "sent", True, "handed to its channel (print house, SMTP server, SMS provider)"
    FAILED = "failed", False, "its channel refused it (``detail`` says why): not sent"
    EXPIRED = "expired", False, "its day's window passed before it was sent: not sent"
    DELIVERED = "delivered", True, "the channel reported it delivered"
    BOUNCED = "bounced", True, "the e-mail or text could not be delivered"
    RETURNED = "returned", True, "the letter came back: the address is marked doubtful"

    def __init__(self, _value: str, counts: bool, about: str) -> None:
        self.counts = counts
        self.about = about


#: the statuses that count as a contact of the debtor (caps, minimum days between)
COUNTED: tuple[ContactStatus, ...] = tuple(s for s in ContactStatus if s.counts)


class Delivery(Choice):
    """A delivery result reported back by a channel (`cession contacts results FILE`): the
    contact's status it becomes."""

    DELIVERED = "delivered", ContactStatus.DELIVERED
    BOUNCED = "bounced", ContactStatus.BOUNCED
    RETURNED = "returned", ContactStatus.RETURNED

    def __init__(self, _value: str, status: ContactStatus) -> None:
        self.status = status


class HoldRule(Choice):
    """Why the rules refused a contact (``contacts.rule``): every refused contact is stored with one."""

    FLAG = "flag", "the debtor has a flag that forbids contact (forbid_flags)"
    NOTHING_OWED = "nothing_owed", "nothing is owed on the claim"
    NOTICE_FIRST = "notice_first", "the notice of assignment was not sent after_notice_days before"
    NO_VIRTUAL_ACCOUNT = "no_virtual_account", "the debtor has no virtual account to pay to (the notice needs one)"
    NO_CHANNEL = "no_channel", "no channel of the step reaches the debtor (no address, objected or doubtful)"
    OBJECTED = "objected", "the debtor objected to every channel of the step"
    ADDRESS_DOUBTFUL = "address_doubtful", "a letter came back from the debtor's address"
    HOURS = "hours", "the channel has no window on the day (weekend, public holiday)"
    MIN_DAYS_BETWEEN = "min_days_between", "the debtor was contacted fewer than min_days_between days before"
    PER_DAY = "per_day", "the debtor's contacts of the day reached caps.per_day"
    PER_WEEK = "per_week", "the debtor's contacts of the last 7 days reached caps.per_week"
    PER_MONTH = "per_month", "the debtor's contacts of the last 30 days reached caps.per_month"

    def __init__(self, _value: str, about: str) -> None:
        self.about = about
