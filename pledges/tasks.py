"""Celery tasks of the pledges app. Each takes ids, returns early when already done, and is
safe to run twice (stored forms are reused, a finished batch is left alone)."""

from celery import shared_task


@shared_task(acks_late=True, soft_time_limit=900, time_limit=960)
def print_pledge_batch(job_id: int) -> None:
    """Print a batch of pledge forms into one PDF, updating the job's progress."""
    from .printing import batch_print_run

    batch_print_run(job_id=job_id)


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def render_pledge_pdf(pledge_id: int) -> None:
    """Render and store one pledge's form ahead of its first print (a no-op once stored)."""
    from .models import Pledge
    from .printing import pledge_pdf_store

    pledge = Pledge.objects.filter(pk=pledge_id).first()
    if pledge is not None:
        pledge_pdf_store(pledge=pledge)
