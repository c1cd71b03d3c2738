"""The notification service: an in-app notice, and optionally SMS and email, after commit.

SMS and email leave through the outbox (``core.outbox``): the task is written with the notice,
so a broker that is down delays them and loses none. Each is sent once per notice: the task
takes the notice's id and marks it sent, so a redelivered or republished task does nothing.
"""

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

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
    if (sms and getattr(recipient, "phone", "")) or (email and recipient.email):
        from . import tasks
        from .outbox import enqueue

        if sms and getattr(recipient, "phone", ""):
            enqueue(tasks.send_sms, notice.pk, dedupe_key=f"notification.sms:{notice.pk}")
        if email and recipient.email:
            enqueue(tasks.send_email, notice.pk, dedupe_key=f"notification.email:{notice.pk}")
    return notice


def sms_text(notice: Notification) -> str:
    return f"{notice.title} {notice.body}".strip()


def _deliver_once(notification_id: int, sent_field: str, address, send) -> bool:
    """Send a notice by one channel unless it went already; ``True`` when sent now.

    The row stays locked while the gateway is called, so two deliveries of one task cannot
    both send. A worker killed between the gateway's answer and the commit sends it again on
    redelivery: once is the aim, at least once the guarantee.
    """
    with transaction.atomic():
        notice = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("recipient")
            .filter(pk=notification_id)
            .first()
        )
        if notice is None or getattr(notice, sent_field) is not None:
            return False
        to = address(notice.recipient)
        if not to:
            return False
        send(to, notice)
        setattr(notice, sent_field, timezone.now())
        notice.save(update_fields=[sent_field])
    return True


def sms_deliver(*, notification_id: int) -> bool:
    """Send a notice's SMS unless it went already; ``True`` when sent now."""
    from .sms import sms_send

    return _deliver_once(
        notification_id,
        "sms_sent_at",
        lambda recipient: getattr(recipient, "phone", ""),
        lambda phone, notice: sms_send(phone, sms_text(notice)),
    )


def email_deliver(*, notification_id: int) -> bool:
    """Send a notice by email unless it went already; ``True`` when sent now."""
    return _deliver_once(
        notification_id,
        "email_sent_at",
        lambda recipient: recipient.email,
        lambda email, notice: send_mail(
            notice.title, notice.body, settings.DEFAULT_FROM_EMAIL, [email]
        ),
    )
