"""Reads of the credit app used by pages, the API and other apps.

``eligibility_for`` is asked before signing a pledge: one primary-key lookup of the person's
pledging block (``CreditBlock``), which the services derive from the records.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connections, router
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import id_numbers

from .models import (
    ACTIVE_STATES,
    DECIDED_STATES,
    AccessLog,
    CreditBlock,
    CreditRecord,
    LedgerCheckpoint,
    LedgerHead,
    Objection,
    RecordState,
    RepairApplication,
)


@dataclass(frozen=True)
class Eligibility:
    """Whether a person may pledge now; if not, why, until when and how to restore it."""

    eligible: bool
    reason: str = ""
    until: dt.date | None = None
    how_to_restore: str = ""


def _block_sql(connection) -> str:
    """The pledging-block lookup, written once per connection vendor: it runs before every
    signature, so it skips the ORM's per-call query compilation (bench/credit_eligibility)."""
    cached = _BLOCK_SQL.get(connection.vendor)
    if cached:
        return cached
    meta = CreditBlock._meta
    quote = connection.ops.quote_name

    def column(name):
        return quote(meta.get_field(name).column)

    sql = (
        f"SELECT {column('false_pledge')}, {column('blocked_until')}, "
        f"{column('repair_possible_on')} FROM {quote(meta.db_table)} "
        f"WHERE {column('person')} = %s AND {column('blocked_until')} > %s"
    )
    _BLOCK_SQL[connection.vendor] = sql
    return sql


_BLOCK_SQL: dict[str, str] = {}


def _as_date(value):
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def eligibility_for(person) -> Eligibility:
    """An active confirmed record of a false pledge, or of ``serious`` severity, blocks.

    One primary-key lookup of the person's block, which the services keep in step with the
    records. "Active" is decided by date in the query, so a record whose period has ended
    stops blocking that day even before the daily expiry task runs. Repaired, annulled and
    expired records do not block; they stay in the ledger as history.
    """
    if person is None or person.pk is None:
        return Eligibility(eligible=True)
    today = timezone.localdate()
    connection = connections[router.db_for_read(CreditBlock)]
    with connection.cursor() as cursor:
        cursor.execute(
            _block_sql(connection), [person.pk, connection.ops.adapt_datefield_value(today)]
        )
        row = cursor.fetchone()
    if row is None:
        return Eligibility(eligible=True)
    false_pledge, until, repair_from = bool(row[0]), _as_date(row[1]), _as_date(row[2])
    if false_pledge:
        reason = _("A credit record for a false pledge you made is in force.")
    else:
        reason = _("A serious credit record is in force.")
    if repair_from and repair_from > today:
        how = _(
            "From %(date)s you may apply for credit repair under “My credit”, with a new credit "
            "pledge and proof that the conduct was corrected. Otherwise the record stops "
            "blocking on %(until)s."
        ) % {"date": repair_from.isoformat(), "until": until.isoformat()}
    else:
        how = _(
            "You may apply for credit repair now under “My credit”, with a new credit pledge "
            "and proof that the conduct was corrected. Otherwise the record stops blocking on "
            "%(until)s."
        ) % {"until": until.isoformat()}
    return Eligibility(eligible=False, reason=reason, until=until, how_to_restore=how)


def persons_with_credit_history():
    """Person ids with a record that was confirmed at some point (in force, repaired or
    expired; not drafts, not annulled): spot checks weigh them higher (DOMAIN.md §2)."""
    return CreditRecord.objects.filter(state__in=DECIDED_STATES).values("person_id").distinct()


# ---- the resident -----------------------------------------------------------------------


def records_of(person):
    """A person's own records, newest first (every state: they are the person's history)."""
    if person is None:
        return CreditRecord.objects.none()
    return CreditRecord.objects.filter(person=person).order_by("-created_at", "-id")


def own_record(person, record_id) -> CreditRecord | None:
    if person is None:
        return None
    return CreditRecord.objects.select_related("person").filter(pk=record_id, person=person).first()


def access_log_of(record):
    return AccessLog.objects.filter(record=record).order_by("-viewed_at", "-id")


# ---- the credit office ------------------------------------------------------------------


def record_list(*, status: str = "", severity: str = "", kind: str = "", id_number: str = ""):
    """Every record, filtered; the ID number is found through its keyed hash, never stored."""
    records = CreditRecord.objects.select_related("person").annotate(
        statement_count=Count("statements", distinct=True)
    )
    if status:
        records = records.filter(state=status)
    if severity:
        records = records.filter(severity=severity)
    if kind:
        records = records.filter(kind=kind)
    if id_number:
        records = records.filter(person__id_hash=id_numbers.keyed_hash(id_number))
    return records.order_by("-created_at", "-id")


def review_queue():
    """Drafts waiting for a decision, the oldest hearing deadline first."""
    return (
        CreditRecord.objects.filter(state=RecordState.PENDING_REVIEW)
        .select_related("person")
        .annotate(statement_count=Count("statements", distinct=True))
        .order_by("hearing_deadline", "id")
    )


def objection_list(*, person=None, status: str = ""):
    objections = Objection.objects.select_related("record", "record__person")
    if person is not None:
        objections = objections.filter(person=person)
    if status:
        objections = objections.filter(status=status)
    return objections.order_by("-overdue", "due_on", "-id")


def repair_list(*, person=None, status: str = ""):
    repairs = RepairApplication.objects.select_related("record", "record__person")
    if person is not None:
        repairs = repairs.filter(person=person)
    if status:
        repairs = repairs.filter(status=status)
    return repairs.order_by("-overdue", "due_on", "-id")


# ---- publication ------------------------------------------------------------------------


def published_records(today: dt.date | None = None):
    """Records on public view today: confirmed, published, inside their window.

    Filtered by date here, so an expired record never shows even before the expiry task.
    """
    today = today or timezone.localdate()
    return (
        CreditRecord.objects.filter(
            state__in=ACTIVE_STATES,
            published=True,
            publication_starts_on__lte=today,
            publication_ends_on__gt=today,
        )
        .select_related("person")
        .order_by("-decided_on", "-id")
    )


def checkpoints():
    return LedgerCheckpoint.objects.order_by("-day")


def backup_facts() -> dict:
    """What a backup records about credit, so a restore can check the ledger came back whole."""
    return {"ledger_head": LedgerHead.objects.filter(pk=1).values("seq", "hash").first()}
