"""Daily and queued work of the credit app. Each task is safe to run twice."""

from celery import shared_task
from django.utils import timezone

from . import ledger, services
from .models import CreditRecord, RecordState


@shared_task(name="credit.verify_ledger")
def verify_ledger() -> dict:
    """Check the whole chain and the signed head; alert the credit office on a fault."""
    from core import metrics

    result = services.ledger_check()
    metrics.LEDGER_OK.set(1 if result.ok else 0)
    metrics.LEDGER_VERIFIED_AT.set_to_current_time()
    return result.as_dict()


@shared_task(name="credit.checkpoint_ledger")
def checkpoint_ledger() -> int:
    """Keep today's head as a checkpoint (once per day)."""
    return ledger.checkpoint().seq


@shared_task(name="credit.expire_records")
def expire_records() -> int:
    """End records whose maximum period has passed (the pages already hide them by date)."""
    ids = CreditRecord.objects.filter(
        state=RecordState.CONFIRMED, publication_ends_on__lte=timezone.localdate()
    ).values_list("id", flat=True)
    return sum(services.record_expire(record_id=record_id) for record_id in list(ids))


@shared_task(name="credit.flag_overdue")
def flag_overdue() -> dict:
    """Flag objections and repair applications past the office's time limit."""
    return services.overdue_flag()


@shared_task(name="credit.push_records", acks_late=True)
def push_records() -> int:
    """Send queued record versions to the sharing platform; failures wait for the next run."""
    sent = total = services.pushes_send()
    while sent:
        sent = services.pushes_send()
        total += sent
    return total
