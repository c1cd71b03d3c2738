from celery import shared_task

from .sms import sms_send


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_sms(phone: str, text: str) -> None:
    sms_send(phone, text)
