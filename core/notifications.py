"""The notification service: an in-app notice, and optionally SMS and email, after commit."""

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from .models import Notification


def notify(
    *,
    recipient,
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    sms: bool = False,
    email: bool = False,
    dedupe_key: str = "",
) -> Notification | None:
    """Create an in-app notice for ``recipient`` (an account); send SMS/email after commit.

    ``dedupe_key`` makes the call safe to repeat (a retried task notifies once).
    """
    if recipient is None:
        return None
    if dedupe_key:
        existing = Notification.objects.filter(recipient=recipient, dedupe_key=dedupe_key).first()
        if existing:
            return existing
    try:
        with transaction.atomic():
            notice = Notification.objects.create(
                recipient=recipient,
                kind=kind,
                title=title,
                body=body,
                link=link,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        return Notification.objects.get(recipient=recipient, dedupe_key=dedupe_key)
    text = f"{title} {body}".strip()
    phone = getattr(recipient, "phone", "")
    if sms and phone:
        from .tasks import send_sms

        transaction.on_commit(lambda: send_sms.delay(phone, text))
    if email and recipient.email:
        transaction.on_commit(
            lambda: send_mail(title, body, settings.DEFAULT_FROM_EMAIL, [recipient.email])
        )
    return notice
