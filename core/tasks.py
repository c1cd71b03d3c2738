from celery import shared_task


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_sms(notification_id: int) -> bool:
    """The SMS of one notice (``core.notifications.notify``); a no-op once it was sent."""
    from .notifications import sms_deliver

    return sms_deliver(notification_id=notification_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_email(notification_id: int) -> bool:
    """The email of one notice; a no-op once it was sent."""
    from .notifications import email_deliver

    return email_deliver(notification_id=notification_id)


@shared_task(ignore_result=True)
def apply_retention() -> dict:
    """Daily (beat, ``core.apply_retention``): delete or anonymise what has been kept long
    enough. Safe to run twice: a second run finds nothing left to do."""
    from .retention import retention_run

    return retention_run()
