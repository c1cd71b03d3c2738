"""Retention (存储期限): what has been kept long enough is deleted or anonymised.

``settings.CHENGNUO_RETENTION`` maps a record type to the days it is kept (``None``: for
ever). Each app registers the rule for its own records in ``AppConfig.ready``::

    register_rule("withdrawn_pledge_contacts", anonymise_withdrawn, order=50)

A rule is ``rule(cutoff) -> int``: it handles the records older than ``cutoff`` (a datetime)
and returns how many it changed. It must be safe to run twice (a second run finds nothing)
and must leave hash-bearing facts alone: the audit log is append-only and the credit ledger
holds only hashes, so neither has a rule. ``retention_run`` is called daily by the beat task
``core.tasks.apply_retention``.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

logger = logging.getLogger("chengnuo.retention")


@dataclass(frozen=True)
class Rule:
    name: str
    apply: Callable
    order: int


_rules: dict[str, Rule] = {}


def register_rule(name: str, apply: Callable, *, order: int = 100) -> None:
    """Register (or replace) the rule for the record type ``name``."""
    _rules[name] = Rule(name=name, apply=apply, order=order)


def rules() -> list[Rule]:
    return sorted(_rules.values(), key=lambda r: (r.order, r.name))


def retention_days(name: str) -> int | None:
    return settings.CHENGNUO_RETENTION.get(name)


def retention_run(*, now=None) -> dict[str, int]:
    """Apply every rule whose record type has a retention period; return counts by type."""
    now = now or timezone.now()
    counts = {}
    for rule in rules():
        days = retention_days(rule.name)
        if days is None:
            continue
        counts[rule.name] = rule.apply(now - timedelta(days=days))
        if counts[rule.name]:
            logger.info("retention %s: %d records past %d days", rule.name, counts[rule.name], days)
    return counts


# ---- core's own records -----------------------------------------------------------------


def _delete(queryset) -> int:
    deleted, _by_model = queryset.delete()
    return deleted


def expire_notifications(cutoff) -> int:
    from .models import Notification

    return _delete(Notification.objects.filter(created_at__lt=cutoff))


def expire_one_time_codes(cutoff) -> int:
    from .models import OneTimeCode

    return _delete(OneTimeCode.objects.filter(created_at__lt=cutoff))


def expire_idempotent_requests(cutoff) -> int:
    from .models import IdempotentRequest

    return _delete(IdempotentRequest.objects.filter(created_at__lt=cutoff))


def expire_background_jobs(cutoff) -> int:
    """Finished jobs and their result files (exports may hold personal data)."""
    from django.core.files.storage import storages

    from .models import BackgroundJob

    jobs = BackgroundJob.objects.filter(
        status__in=[BackgroundJob.Status.DONE, BackgroundJob.Status.FAILED],
        created_at__lt=cutoff,
    )
    private = storages["private"]
    count = 0
    for job in jobs.iterator():
        if job.result_file and private.exists(job.result_file):
            private.delete(job.result_file)
        job.delete()
        count += 1
    return count


def register_core_rules() -> None:
    register_rule("one_time_codes", expire_one_time_codes, order=10)
    register_rule("idempotent_requests", expire_idempotent_requests, order=10)
    register_rule("notifications", expire_notifications, order=20)
    register_rule("background_jobs", expire_background_jobs, order=20)
