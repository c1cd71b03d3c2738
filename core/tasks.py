from celery import shared_task

from .sms import sms_send


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_sms(phone: str, text: str) -> None:
    sms_send(phone, text)


@shared_task(ignore_result=True)
def apply_retention() -> dict:
    """Daily (beat, ``core.apply_retention``): delete or anonymise what has been kept long
    enough. Safe to run twice: a second run finds nothing left to do."""
    from .retention import retention_run

    return retention_run()
