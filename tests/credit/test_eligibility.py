"""Eligibility to pledge: asked before signing, through the API and the matter page."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from credit import services
from credit.models import CreditBlock, CreditRecord
from credit.selectors import eligibility_for
from pledges.models import Pledge
from tests.conftest import client_for
from tests.credit.factories import close_hearing, confirmed, draft
from tests.factories import MatterFactory, pledge_body

pytestmark = pytest.mark.django_db

DECIDED = "2026-03-10 10:00:00+08:00"


def sign_via_api(user, matter=None):
    matter = matter or MatterFactory()
    return client_for(user).post("/api/v1/pledges/", pledge_body(user, matter), format="json")


def test_a_false_pledge_record_blocks_signing_through_the_api(resident, officer):
    with freeze_time(DECIDED):
        record = confirmed(resident.person, officer, severity="general", kind="false_pledge")
    with freeze_time("2026-04-01 10:00:00+08:00"):
        response = sign_via_api(resident)
        expected_reason = eligibility_for(resident.person).reason
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "not_eligible"
    assert body["until"] == record.publication_ends_on.isoformat() == "2027-03-10"
    assert body["reason"] == body["detail"] == expected_reason
    assert "2026-06-10" in body["how_to_restore"]
    assert not Pledge.objects.exists()


def test_the_matter_page_explains_why_until_when_and_how(client, resident, officer):
    with freeze_time(DECIDED):
        confirmed(resident.person, officer, severity="general", kind="false_pledge")
    matter = MatterFactory()
    client.force_login(resident)
    with freeze_time("2026-04-01 10:00:00+08:00"):
        page = client.get(f"/matters/{matter.code}/")
    html = page.content.decode()
    assert page.status_code == 200
    eligibility = page.context["eligibility"]
    assert not eligibility.eligible
    assert eligibility.until == dt.date(2027, 3, 10)
    assert eligibility.reason in html
    assert "2027-03-10" in html or "2027年3月10日" in html
    assert "2026-06-10" in html  # when repair becomes possible
    assert 'id="sign-form"' not in html
    assert f"/matters/{matter.code}/certificate/" in html  # the certificate route is offered


def test_the_matter_page_refuses_a_signing_post_while_blocked(client, resident, officer):
    with freeze_time(DECIDED):
        confirmed(resident.person, officer, severity="serious", kind="breach")
    matter = MatterFactory()
    client.force_login(resident)
    with freeze_time("2026-04-01 10:00:00+08:00"):
        page = client.post(f"/matters/{matter.code}/", {"typed_name": resident.person.name})
    assert page.status_code == 200
    assert not page.context["eligibility"].eligible
    assert not Pledge.objects.exists()


def test_a_serious_record_of_any_kind_blocks(resident, officer):
    confirmed(resident.person, officer, severity="serious", kind="breach")
    assert sign_via_api(resident).status_code == 403


@pytest.mark.parametrize("severity", ["minor", "general"])
def test_a_breach_that_is_not_serious_does_not_block(resident, officer, severity):
    confirmed(resident.person, officer, severity=severity, kind="breach")
    assert sign_via_api(resident).status_code == 201


def test_a_draft_does_not_block_before_it_is_confirmed(resident):
    draft(resident.person, kind="false_pledge")
    assert sign_via_api(resident).status_code == 201


def test_an_annulled_draft_does_not_block(resident, officer):
    record = close_hearing(draft(resident.person))
    services.record_decide(record=record, actor=officer, decision="annul", reason="误报")
    assert sign_via_api(resident).status_code == 201


def test_a_record_under_objection_still_blocks(resident, officer):
    record = confirmed(resident.person, officer)
    services.objection_file(record=record, actor=resident, reasons="r")
    assert sign_via_api(resident).status_code == 403


def test_a_repaired_record_no_longer_blocks(resident, officer):
    record = confirmed(resident.person, officer, severity="minor")
    repair = services.repair_apply(record=record, actor=resident, credit_pledge="p", correction="c")
    assert sign_via_api(resident).status_code == 403
    services.repair_decide(repair=repair, actor=officer, decision="approved")
    assert sign_via_api(resident).status_code == 201


def test_a_record_stops_blocking_the_day_its_period_ends_before_the_expiry_task(resident, officer):
    with freeze_time(DECIDED):
        record = confirmed(resident.person, officer, severity="minor")  # ends 2026-06-10
    with freeze_time("2026-06-09 23:59:00+08:00"):
        assert not eligibility_for(resident.person).eligible
    with freeze_time("2026-06-10 00:00:01+08:00"):
        assert CreditRecord.objects.get(pk=record.pk).state == "confirmed"
        assert eligibility_for(resident.person).eligible
        assert sign_via_api(resident).status_code == 201


def test_until_is_the_latest_end_of_several_blocking_records(resident, officer):
    with freeze_time(DECIDED):
        confirmed(resident.person, officer, severity="general")
        confirmed(resident.person, officer, severity="serious", kind="breach")
        assert eligibility_for(resident.person).until == dt.date(2029, 3, 10)


def test_other_people_are_not_blocked(resident, other_resident, officer):
    confirmed(resident.person, officer, severity="serious")
    assert eligibility_for(other_resident.person).eligible
    assert sign_via_api(other_resident).status_code == 201


def test_eligibility_is_one_primary_key_lookup(resident, officer):
    confirmed(resident.person, officer, severity="serious")
    with CaptureQueriesContext(connection) as queries:
        assert not eligibility_for(resident.person).eligible
    assert len(queries) == 1
    sql = queries[0]["sql"]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plan = " ".join(str(row) for row in cursor.fetchall())
            # the primary key's own index (SQLite names it sqlite_autoindex_<table>_1)
            assert "SEARCH credit_creditblock USING INDEX sqlite_autoindex" in plan
        else:
            cursor.execute(f"EXPLAIN {sql}")
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "credit_creditblock_pkey" in plan


def block_of(person):
    return (
        CreditBlock.objects.filter(person=person)
        .values_list("blocked_until", "repair_possible_on", "false_pledge")
        .first()
    )


def test_the_block_follows_every_change_and_a_rebuild_agrees(resident, officer):
    person = resident.person
    with freeze_time(DECIDED):
        general = confirmed(person, officer, severity="general")
        assert block_of(person) == (dt.date(2027, 3, 10), dt.date(2026, 6, 10), True)
        serious = confirmed(person, officer, severity="serious", kind="breach")
        assert block_of(person) == (dt.date(2029, 3, 10), dt.date(2027, 3, 10), True)
        objection = services.objection_file(record=serious, actor=resident, reasons="r")
        services.objection_decide(
            objection=objection, actor=officer, decision="upheld", reason="x", outcome="annul"
        )
        assert block_of(person) == (dt.date(2027, 3, 10), dt.date(2026, 6, 10), True)
        snapshot = block_of(person)
        assert services.blocks_rebuild() == 1
        assert block_of(person) == snapshot
    with freeze_time("2026-06-10 10:00:00+08:00"):
        repair = services.repair_apply(
            record=general, actor=resident, credit_pledge="p", correction="c"
        )
        services.repair_decide(repair=repair, actor=officer, decision="approved")
        assert block_of(person) is None
        assert services.blocks_rebuild() == 0


def test_a_correction_to_a_lighter_breach_lifts_the_block(resident, officer):
    record = confirmed(resident.person, officer, severity="serious", kind="breach")
    objection = services.objection_file(record=record, actor=resident, reasons="r")
    services.objection_decide(
        objection=objection,
        actor=officer,
        decision="upheld",
        reason="情节一般",
        outcome="correct",
        severity="general",
    )
    assert eligibility_for(resident.person).eligible
    assert sign_via_api(resident).status_code == 201


def test_rebuild_command_reports_the_blocks(resident, officer):
    from io import StringIO

    from django.core.management import call_command

    confirmed(resident.person, officer, severity="serious")
    CreditBlock.objects.all().delete()
    assert eligibility_for(resident.person).eligible  # the table is what eligibility reads
    out = StringIO()
    call_command("rebuild_credit_blocks", stdout=out)
    assert out.getvalue().startswith("1 ")
    assert not eligibility_for(resident.person).eligible


def test_credit_history_counts_records_ever_confirmed(resident, other_resident, officer):
    from credit.selectors import persons_with_credit_history
    from tests.factories import make_resident

    confirmed(resident.person, officer, severity="minor")
    draft(other_resident.person)
    annulled = make_resident("annulled-one").person
    services.record_decide(
        record=close_hearing(draft(annulled)), actor=officer, decision="annul", reason="x"
    )
    ids = set(persons_with_credit_history().values_list("person_id", flat=True))
    assert ids == {resident.person.pk}
