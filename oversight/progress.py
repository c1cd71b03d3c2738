"""Live progress of a background job, readable while the job's transaction is still open.

An import writes every row inside one transaction, so it is imported whole or not at all.
Progress written to the ``BackgroundJob`` row from inside that transaction would stay
invisible to the progress page until the end (and on SQLite a second writing connection
would wait for the import's lock). So live progress goes to the cache, shared by the web and
worker processes; the job row gets the final figures when the work commits.
"""

from django.core.cache import cache

from core.models import BackgroundJob

TTL_SECONDS = 6 * 3600


def _key(job_id: int) -> str:
    return f"oversight:job-progress:{job_id}"


def report(job_id: int, done: int, total: int | None) -> None:
    cache.set(_key(job_id), (int(done), int(total or 0)), TTL_SECONDS)


def clear(job_id: int) -> None:
    cache.delete(_key(job_id))


def snapshot(job: BackgroundJob) -> dict:
    """Status, done, total and percent of ``job``, live figures first."""
    done, total = job.done, job.total
    if job.status in (BackgroundJob.Status.QUEUED, BackgroundJob.Status.RUNNING):
        live = cache.get(_key(job.pk))
        if live:
            done, total = live
    if job.status == BackgroundJob.Status.DONE:
        percent = 100
    elif total:
        percent = min(99, int(done * 100 / total))
    else:
        percent = 0
    return {
        "id": job.pk,
        "kind": job.kind,
        "status": job.status,
        "done": done,
        "total": total,
        "percent": percent,
        "finished": job.status in (BackgroundJob.Status.DONE, BackgroundJob.Status.FAILED),
        "error": job.error,
    }
