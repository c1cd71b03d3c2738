"""Background work of the oversight app. Each task takes ids, returns early when its work is
done, and is safe to run twice; the beat entries are registered by migration 0002."""

from celery import shared_task
from django.utils import timezone

from . import quarters, services


@shared_task(name="oversight.import_catalog_list", soft_time_limit=600, time_limit=660)
def import_catalog_list(catalog_list_id: int) -> str:
    catalog_list = services.catalog_list_import(catalog_list_id=catalog_list_id)
    return catalog_list.status


@shared_task(name="oversight.export_quarterly_report", soft_time_limit=300, time_limit=360)
def export_quarterly_report(job_id: int) -> str:
    return services.report_export_run(job_id=job_id).status


@shared_task(name="oversight.flag_overdue_complaints")
def flag_overdue_complaints() -> int:
    return services.complaints_flag_overdue()


@shared_task(name="oversight.prepare_quarterly_report", soft_time_limit=300, time_limit=360)
def prepare_quarterly_report(quarter: str | None = None) -> str:
    """At a quarter's end (beat: 01:30 on the first day of the next quarter), freeze the
    quarter that just ended."""
    quarter = quarter or quarters.previous(quarters.of(timezone.localdate()))
    return services.quarterly_report_prepare(quarter=quarter).quarter
