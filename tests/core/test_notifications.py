"""Notices by SMS and email leave through the outbox, once per notice."""

import pytest
from django.core import mail

from core import notifications
from core.models import OutboxMessage
from core.notifications import notify
from core.tasks import send_email, send_sms

pytestmark = pytest.mark.django_db


def test_sms_is_an_outbox_message_naming_the_notice_sent_after_commit(
    resident, sms_outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notice = notify(recipient=resident, kind="test", title="您的承诺书已受理", sms=True)
        [message] = OutboxMessage.objects.all()
        assert (message.task_name, message.args) == ("core.tasks.send_sms", [notice.pk])
        assert sms_outbox == []  # nothing before the commit
    assert sms_outbox == [(resident.phone, "您的承诺书已受理")]
    notice.refresh_from_db()
    assert notice.sms_sent_at is not None


def test_a_redelivered_sms_task_sends_nothing_more(resident, sms_outbox):
    notice = notify(recipient=resident, kind="test", title="抽查通知", body="请上传材料")
    assert send_sms(notice.pk) is True
    assert send_sms(notice.pk) is False
    assert sms_outbox == [(resident.phone, "抽查通知 请上传材料")]


def test_a_repeated_notice_is_one_message(resident, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = notify(recipient=resident, kind="test", title="一次", sms=True, dedupe_key="k")
        second = notify(recipient=resident, kind="test", title="一次", sms=True, dedupe_key="k")
    assert first.pk == second.pk
    assert OutboxMessage.objects.count() == 1


def test_email_goes_once_per_notice(resident, django_capture_on_commit_callbacks):
    resident.email = "alice@example.com"
    resident.save(update_fields=["email"])
    with django_capture_on_commit_callbacks(execute=True):
        notice = notify(recipient=resident, kind="test", title="Subject", body="Body", email=True)
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert send_email(notice.pk) is False
    assert notifications.email_deliver(notification_id=notice.pk) is False
    assert len(mail.outbox) == 1


def test_no_sms_for_an_account_without_a_phone(resident, sms_outbox):
    resident.phone = ""
    resident.save(update_fields=["phone"])
    notify(recipient=resident, kind="test", title="无号码", sms=True)
    assert not OutboxMessage.objects.exists()
