"""Prepared statements: compiled once, they read and write what the ORM would, each call with
its own values."""

import pytest
from django.db import connection
from django.db.models import F
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from core.models import AuditEvent
from core.prepared import PreparedInsert, PreparedQuery
from pledges.models import PledgeTemplate
from tests.factories import MatterFactory, make_resident

pytestmark = pytest.mark.django_db


def _account(username):
    return User.objects.select_related("person").filter(username=username)


def test_the_instance_equals_the_orms_with_related_objects_and_converters(db):
    make_resident("alice", name="张三")
    read = PreparedQuery(_account, "username")
    with CaptureQueriesContext(connection) as queries:
        user = read.first(username="alice")
        person = user.person  # loaded with the account, no query
    assert len(queries) == 1
    expected = _account("alice").get()
    assert user.pk == expected.pk
    assert user.date_joined == expected.date_joined  # converted as the ORM converts it
    assert user.is_active is True
    assert person.pk == expected.person.pk
    assert person.id_number == expected.person.id_number  # decrypted
    assert person.phone == expected.person.phone
    assert person.account is user
    assert not user._state.adding
    assert user._state.db == "default"


def test_each_call_reads_its_own_value_and_a_missing_row_is_none(db):
    make_resident("alice")
    make_resident("bob")
    read = PreparedQuery(_account, "username")
    assert read.first(username="alice").username == "alice"
    assert read.first(username="bob").username == "bob"
    assert read.first(username="nobody") is None


def test_json_fields_annotations_order_and_limit_are_kept(db):
    matter = MatterFactory()
    old = matter.current_template()
    newer = PledgeTemplate.objects.create(
        matter=matter,
        version=2,
        notice=[{"key": "matter", "title": "事项", "body": "新"}],
        statements=old.statements,
        status=PledgeTemplate.Status.PUBLISHED,
    )
    read = PreparedQuery(
        lambda code: (
            PledgeTemplate.objects.select_related("matter__department")
            .annotate(next_version=F("version") + 1)
            .filter(matter__code=code)
            .order_by("-version")[:1]
        ),
        "code",
    )
    template = read.first(code=matter.code)
    assert template.pk == newer.pk
    assert template.notice == [{"key": "matter", "title": "事项", "body": "新"}]
    assert template.next_version == 3
    assert template.matter.department.name == matter.department.name


def test_a_value_the_lookup_would_change_is_refused_when_compiled(db):
    read = PreparedQuery(lambda name: User.objects.filter(username__icontains=name), "name")
    with pytest.raises(ValueError, match="plain parameter"):
        read.first(name="ali")


# ---- inserts ------------------------------------------------------------------------------


def _event(**overrides):
    values = {
        "actor_username": "clerk",
        "action": "test.prepared",
        "object_type": "pledges.pledge",
        "object_id": "7",
        "person_hash": "ab" * 32,
        "data": {"number": "CN-2026-000007", "清单": ["一", 2]},
        "ip": "10.0.0.1",
        "user_agent": "test",
    }
    values.update(overrides)
    return AuditEvent(**values)


def _stored(event):
    fields = [f.attname for f in AuditEvent._meta.concrete_fields if f.attname != "id"]
    return AuditEvent.objects.filter(pk=event.pk).values(*fields).get()


def test_a_prepared_insert_stores_what_save_stores(db):
    saved = _event()
    saved.save()
    prepared = _event(occurred_at=saved.occurred_at)
    with CaptureQueriesContext(connection) as queries:
        PreparedInsert(AuditEvent).bind(prepared).execute()
    assert len(queries) == 1
    assert prepared.pk is not None and prepared.pk != saved.pk
    assert not prepared._state.adding
    assert prepared._state.db == "default"
    assert _stored(prepared) == _stored(saved)


def test_fields_set_after_binding_are_read_again_when_named(db):
    insert = PreparedInsert(AuditEvent)
    event = _event(object_id="pending")
    bound = insert.bind(event)
    event.object_id = "42"
    event.data = {"number": "CN-2026-000042"}
    bound.execute("object_id", "data")
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.object_id == "42"
    assert stored.data == {"number": "CN-2026-000042"}


def test_save_signals_are_sent(db):
    seen = []

    def before(sender, instance, **kwargs):
        seen.append(("pre", instance.pk))

    def after(sender, instance, created, **kwargs):
        seen.append(("post", created, instance.pk))

    pre_save.connect(before, sender=AuditEvent)
    post_save.connect(after, sender=AuditEvent)
    try:
        event = _event()
        PreparedInsert(AuditEvent).bind(event).execute()
    finally:
        pre_save.disconnect(before, sender=AuditEvent)
        post_save.disconnect(after, sender=AuditEvent)
    assert seen == [("pre", None), ("post", True, event.pk)]


def test_only_new_instances_without_a_chosen_key_are_inserted(db):
    insert = PreparedInsert(AuditEvent)
    stored = _event()
    stored.save()
    with pytest.raises(ValueError, match="new instances"):
        insert.bind(stored)
    with pytest.raises(ValueError, match="primary key"):
        insert.bind(_event(pk=10_000))
    assert AuditEvent.objects.count() == 1
