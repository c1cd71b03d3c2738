"""Draws: populations per plan and window, ratio and minimum per matter, one draw per
(plan, cutoff), the recorded trail, replay, officers without conflicts, and the follow-up."""

import datetime as dt
import hashlib
import io
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from freezegun import freeze_time

from accounts import roles
from core.models import Notification
from pledges.models import Pledge, PledgeStatus
from tests.factories import (
    MatterFactory,
    PersonFactory,
    UnitFactory,
    make_resident,
    make_staff,
    sign_pledge,
)
from tests.verification.conftest import make_plan, make_pledges
from verification import sampling, services, tasks
from verification.models import Cadence, CheckTask, Draw, SpotCheckPlan
from verification.replay import draw_replay

pytestmark = pytest.mark.django_db


def test_each_matter_of_a_risk_level_plan_gets_its_ratio_or_the_minimum(officers):
    big = MatterFactory(risk_level="high")
    small = MatterFactory(risk_level="high")
    MatterFactory(risk_level="high")  # no pledges: no stratum
    other_level = MatterFactory(risk_level="low")
    make_pledges(big, 51)
    make_pledges(small, 4)
    make_pledges(other_level, 10)
    plan = make_plan(risk_level="high", ratio="0.10", minimum=1)

    draw = services.draw_execute(plan=plan)

    assert draw.population_count == 55
    assert draw.strata == {big.code: {"size": 51, "drawn": 6}, small.code: {"size": 4, "drawn": 1}}
    assert draw.drawn_count == 7
    assert CheckTask.objects.filter(draw=draw, matter=other_level).count() == 0


def test_a_high_risk_matter_may_be_checked_in_full_and_the_minimum_never_exceeds_the_matter(
    officers,
):
    full = MatterFactory(risk_level="very_high")
    make_pledges(full, 7)
    draw = services.draw_execute(plan=make_plan(matter=full, ratio="1"))
    assert draw.drawn_count == 7

    few = MatterFactory()
    make_pledges(few, 3)
    draw = services.draw_execute(plan=make_plan(matter=few, ratio="0.01", minimum=10))
    assert draw.drawn_count == 3


def test_a_matter_with_its_own_plan_is_left_out_of_its_risk_level_plan(officers):
    own = MatterFactory(risk_level="medium")
    shared = MatterFactory(risk_level="medium")
    make_pledges(own, 5)
    make_pledges(shared, 5)
    make_plan(matter=own, ratio="0.5")
    level_plan = make_plan(risk_level="medium", ratio="1")
    draw = services.draw_execute(plan=level_plan)
    assert set(draw.strata) == {shared.code}


def test_drawn_pledges_are_under_check_and_remember_their_state(officers, matter):
    signed = make_pledges(matter, 3)
    decided = make_pledges(matter, 3, status=PledgeStatus.DECIDED)
    withdrawn = make_pledges(matter, 3, status=PledgeStatus.WITHDRAWN)
    draw = services.draw_execute(plan=make_plan(matter=matter, ratio="1"))
    services.draw_follow_up(draw_id=draw.pk)  # after the commit, in the worker

    assert draw.population_count == 6  # withdrawn pledges are not checked
    for task in CheckTask.objects.filter(draw=draw).select_related("pledge"):
        assert task.pledge.status == PledgeStatus.UNDER_CHECK
        expected = "decided" if task.pledge in decided else "signed"
        assert task.status_before == expected
    assert {p.status for p in Pledge.objects.filter(pk__in=[p.pk for p in withdrawn])} == {
        PledgeStatus.WITHDRAWN
    }
    assert len(signed) == 3


def test_one_draw_per_plan_and_cutoff_even_when_asked_twice(officers, matter):
    make_pledges(matter, 20)
    plan = make_plan(matter=matter, ratio="0.2")
    cutoff = timezone.now()
    first = services.draw_execute(plan=plan, cutoff=cutoff)
    again = services.draw_execute(plan=plan, cutoff=cutoff)
    assert again.pk == first.pk
    assert Draw.objects.count() == 1
    assert CheckTask.objects.count() == 4


def test_the_next_draw_covers_only_pledges_signed_after_the_previous_cutoff(officers, matter):
    old = make_pledges(matter, 10, signed_at=timezone.now() - dt.timedelta(days=2))
    plan = make_plan(matter=matter, ratio="1")
    first = services.draw_execute(plan=plan, cutoff=timezone.now() - dt.timedelta(days=1))
    assert first.population_count == 10
    new = make_pledges(matter, 4, signed_at=timezone.now() - dt.timedelta(hours=2))
    second = services.draw_execute(plan=plan)
    assert second.window_start == first.cutoff
    assert second.population_count == 4
    drawn = set(CheckTask.objects.filter(draw=second).values_list("pledge_id", flat=True))
    assert drawn == {p.pk for p in new}
    assert not drawn & {p.pk for p in old}


def test_a_second_run_with_no_new_pledges_draws_nothing_and_exits_zero(officers, matter):
    make_pledges(matter, 10)
    plan = make_plan(matter=matter, ratio="0.1")
    out = io.StringIO()
    call_command("run_draws", stdout=out)
    assert "drew 1 of 10" in out.getvalue()
    out = io.StringIO()
    call_command("run_draws", "--plan", str(plan.pk), stdout=out)  # exits 0: no exception
    assert "nothing to draw" in out.getvalue()
    assert Draw.objects.count() == 1
    assert CheckTask.objects.count() == 1


def test_dry_run_shows_the_draw_and_writes_nothing(officers, matter):
    make_pledges(matter, 30)
    plan = make_plan(matter=matter, ratio="0.1")
    out = io.StringIO()
    call_command("run_draws", "--dry-run", stdout=out)
    assert "would draw 3 of 30" in out.getvalue()
    assert f"{matter.code}: 3 of 30" in out.getvalue()
    assert Draw.objects.count() == 0 and CheckTask.objects.count() == 0
    plan.refresh_from_db()
    assert plan.last_cutoff is None
    assert set(Pledge.objects.values_list("status", flat=True)) == {PledgeStatus.SIGNED}


def test_run_draws_for_an_unknown_plan_fails_with_one_line():
    with pytest.raises(CommandError, match="No plan 999"):
        call_command("run_draws", "--plan", "999")


def test_the_draw_records_seed_algorithm_population_file_and_digests(officers, matter):
    pledges = make_pledges(matter, 12)
    draw = services.draw_execute(plan=make_plan(matter=matter, ratio="0.25"))

    assert sampling.SEED_PATTERN.match(draw.seed)
    assert draw.algorithm_version == sampling.ALGORITHM_VERSION
    assert draw.ratio == Decimal("0.25") and draw.minimum == 1
    content = draw.population_file.read()
    assert hashlib.sha256(content).hexdigest() == draw.population_sha256
    lines = content.decode().splitlines()
    assert lines == sorted(f"{p.number}\t{matter.code}\t1" for p in pledges)
    numbers = CheckTask.objects.filter(draw=draw).values_list("pledge__number", flat=True)
    assert draw.result_sha256 == sampling.result_digest(numbers)
    assert draw.officers == [[o.pk, o.unit_id, o.person_id] for o in officers]
    assert draw.publish_due > timezone.localdate()


def test_replay_recomputes_the_draw_and_reports_a_match(officers, matter):
    make_pledges(matter, 40)
    draw = services.draw_execute(plan=make_plan(matter=matter, ratio="0.1", method="onsite"))
    out = io.StringIO()
    call_command("replay_draw", str(draw.pk), stdout=out)
    assert "MATCH" in out.getvalue()
    assert draw_replay(draw).matches


def test_replay_reports_a_population_file_changed_afterwards(officers, matter):
    make_pledges(matter, 20)
    draw = services.draw_execute(plan=make_plan(matter=matter, ratio="0.1"))
    content = draw.population_file.read().decode().splitlines()
    content.pop()  # one pledge quietly removed from the population
    draw.population_file.save("tampered.tsv", ContentFile("\n".join(content) + "\n"))
    with pytest.raises(CommandError, match="MISMATCH"):
        call_command("replay_draw", str(draw.pk), stdout=io.StringIO())


def test_replay_reports_a_task_that_is_not_what_the_seed_drew(officers, matter):
    make_pledges(matter, 20)
    draw = services.draw_execute(plan=make_plan(matter=matter, ratio="0.1"))
    undrawn = Pledge.objects.exclude(check_tasks__draw=draw).first()
    task = CheckTask.objects.filter(draw=draw).first()
    CheckTask.objects.filter(pk=task.pk).update(pledge=undrawn)
    report = draw_replay(draw)
    assert not report.matches
    assert ("tasks in the database", False) in [(n, ok) for n, ok, _ in report.checks]


def test_replay_of_a_draw_with_another_seed_does_not_match(officers, matter):
    make_pledges(matter, 50)
    draw = services.draw_execute(plan=make_plan(matter=matter, ratio="0.1"))
    Draw.objects.filter(pk=draw.pk).update(seed="0" * 64)
    draw.refresh_from_db()
    assert not draw_replay(draw).matches


# ---- officers ---------------------------------------------------------------------------------


def test_officers_with_a_conflict_step_aside(matter):
    department = UnitFactory(code="SF", name="市司法局")
    town = UnitFactory(code="419001-Z02", name="五龙口镇", kind="town")
    clerk = make_staff(roles.VERIFICATION_OFFICER, "officer-clerk", unit=department)
    local = make_staff(roles.VERIFICATION_OFFICER, "officer-local", unit=town)
    applicant_officer = make_staff(roles.VERIFICATION_OFFICER, "officer-self", unit=department)
    applicant_officer.person = PersonFactory()
    applicant_officer.save()
    free = make_staff(roles.VERIFICATION_OFFICER, "officer-free", unit=department)
    make_pledges(matter, 30, clerk=clerk, town=town, person=applicant_officer.person)
    plan = make_plan(matter=matter, ratio="1", method="onsite")

    draw = services.draw_execute(plan=plan)

    tasks = list(CheckTask.objects.filter(draw=draw))
    assert len(tasks) == 30
    # Only one officer is free of conflicts: lead on every task, and no second exists.
    assert {t.lead_id for t in tasks} == {free.pk}
    assert {t.second_id for t in tasks} == {None}
    assert not {local.pk} & {t.lead_id for t in tasks}


def test_two_officer_on_site_checks_draw_two_different_officers(officers, matter):
    make_pledges(matter, 40)
    draw = services.draw_execute(plan=make_plan(matter=matter, ratio="1", method="onsite"))
    tasks = list(CheckTask.objects.filter(draw=draw))
    assert all(t.lead_id and t.second_id and t.lead_id != t.second_id for t in tasks)
    assert all(t.drawn_lead_id == t.lead_id and t.drawn_second_id == t.second_id for t in tasks)
    # Every officer gets some of forty tasks: the draw is spread, not fixed.
    assert {t.lead_id for t in tasks} == {o.pk for o in officers}


def test_a_plan_needing_one_officer_on_site_draws_no_second(officers, matter):
    make_pledges(matter, 10)
    plan = make_plan(matter=matter, ratio="1", method="onsite", officers_onsite=1)
    draw = services.draw_execute(plan=plan)
    assert set(CheckTask.objects.filter(draw=draw).values_list("second_id", flat=True)) == {None}


def test_other_methods_need_no_second_officer(officers, matter):
    make_pledges(matter, 10)
    draw = services.draw_execute(plan=make_plan(matter=matter, ratio="1"))
    tasks = CheckTask.objects.filter(draw=draw)
    assert set(tasks.values_list("method", flat=True)) == {"data_check"}
    assert set(tasks.values_list("second_id", flat=True)) == {None}


# ---- credit history ---------------------------------------------------------------------------


def _confirmed_record(person):
    from credit.services import record_decide, record_draft

    officer = make_staff(roles.CREDIT_OFFICER, "credit-officer")
    record = record_draft(
        person=person, kind="false_pledge", facts={"pledge_number": "X"}, source=f"test:{person.pk}"
    )
    with freeze_time(record.hearing_deadline + dt.timedelta(days=1)):
        return record_decide(
            record=record, actor=officer, decision="confirm", severity="general", basis="测试依据"
        )


def test_a_person_with_a_credit_history_weighs_more_in_the_draw(officers, matter):
    careless = PersonFactory()
    _confirmed_record(careless)
    heavy = make_pledges(matter, 3, person=careless)
    make_pledges(matter, 3)
    draw = services.draw_execute(plan=make_plan(matter=matter, ratio="0.5", credit_weight="2.5"))
    lines = draw.population_file.read().decode().splitlines()
    weights = {line.split("\t")[0]: line.split("\t")[2] for line in lines}
    assert {weights[p.number] for p in heavy} == {"2.5"}
    assert sorted(weights.values()).count("1") == 3
    assert draw_replay(draw).matches


def test_a_draft_that_was_never_confirmed_does_not_weigh(officers, matter):
    from credit.services import record_draft

    person = PersonFactory()
    record_draft(person=person, kind="false_pledge", facts={}, source="test:draft")
    make_pledges(matter, 2, person=person)
    draw = services.draw_execute(plan=make_plan(matter=matter, ratio="1"))
    assert {line.split("\t")[2] for line in draw.population_file.read().decode().splitlines()} == {
        "1"
    }


# ---- faults -----------------------------------------------------------------------------------


def test_a_draw_that_fails_halfway_leaves_nothing_and_the_rerun_draws_once(
    officers, matter, monkeypatch
):
    make_pledges(matter, 20)
    plan = make_plan(matter=matter, ratio="0.1")
    cutoff = timezone.now()

    def crash(draw):
        raise RuntimeError("worker killed")

    # Killed after the tasks were inserted, before the draw's record was complete.
    monkeypatch.setattr(services.drawing, "result_digest", crash)
    with pytest.raises(RuntimeError):
        services.draw_execute(plan=plan, cutoff=cutoff)
    assert Draw.objects.count() == 0 and CheckTask.objects.count() == 0
    assert set(Pledge.objects.values_list("status", flat=True)) == {PledgeStatus.SIGNED}
    plan.refresh_from_db()
    assert plan.last_cutoff is None

    monkeypatch.undo()
    draw = services.draw_execute(plan=plan, cutoff=cutoff)
    services.draw_execute(plan=plan, cutoff=cutoff)  # redelivered
    assert Draw.objects.count() == 1
    assert CheckTask.objects.filter(draw=draw).count() == 2


def test_a_redelivered_beat_task_in_the_same_period_draws_nothing_new(officers, matter):
    make_pledges(matter, 10, signed_at=timezone.now() - dt.timedelta(days=10))
    plan = make_plan(matter=matter, ratio="0.5", cadence=Cadence.DAILY)
    first = tasks.draw_spot_checks(plan.pk)
    second = tasks.draw_spot_checks(plan.pk)
    assert first == second
    assert Draw.objects.get().trigger == Draw.Trigger.BEAT
    assert CheckTask.objects.count() == 5


# ---- beat's cutoff and the schedule -----------------------------------------------------------


@pytest.mark.parametrize(
    ("cadence", "expected"),
    [
        (Cadence.DAILY, "2026-11-26 00:00"),
        (Cadence.WEEKLY, "2026-11-23 00:00"),  # Monday
        (Cadence.MONTHLY, "2026-11-01 00:00"),
    ],
)
def test_beat_cutoff_is_the_end_of_the_period_just_closed(cadence, expected):
    plan = SpotCheckPlan(cadence=cadence)
    now = timezone.make_aware(dt.datetime(2026, 11, 26, 0, 5))
    cutoff = services.period_cutoff(plan, now)
    assert timezone.localtime(cutoff).strftime("%Y-%m-%d %H:%M") == expected


def test_a_custom_crontab_cuts_off_at_its_last_firing(matter):
    plan = make_plan(matter=matter, cadence=Cadence.CUSTOM)
    crontab = plan.periodic_task.crontab
    crontab.minute, crontab.hour, crontab.day_of_week = "30", "6,18", "*"
    crontab.save()
    plan.refresh_from_db()
    now = timezone.make_aware(dt.datetime(2026, 11, 26, 17, 0))
    assert timezone.localtime(services.period_cutoff(plan, now)).strftime("%d %H:%M") == "26 06:30"
    now = timezone.make_aware(dt.datetime(2026, 11, 26, 5, 0))
    assert timezone.localtime(services.period_cutoff(plan, now)).strftime("%d %H:%M") == "25 18:30"


def test_saving_a_plan_keeps_its_beat_entry_in_step(matter):
    plan = make_plan(matter=matter, cadence=Cadence.WEEKLY)
    task = PeriodicTask.objects.get(pk=plan.periodic_task_id)
    assert task.task == "verification.tasks.draw_spot_checks"
    assert task.kwargs == f'{{"plan_id": {plan.pk}}}'
    assert (task.crontab.day_of_week, task.crontab.hour) == ("1", "0")
    plan.cadence = Cadence.MONTHLY
    plan.active = False
    services.plan_save(plan=plan)
    task.refresh_from_db()
    assert task.crontab.day_of_month == "1" and not task.enabled
    assert PeriodicTask.objects.filter(task="verification.tasks.draw_spot_checks").count() == 1


def test_a_plan_covers_a_matter_or_a_risk_level_not_both(matter):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        make_plan(matter=matter, risk_level="low")
    with pytest.raises(ValidationError):
        make_plan()


# ---- follow-up --------------------------------------------------------------------------------


def test_the_follow_up_leaves_a_check_already_concluded_alone(officers, matter):
    pledges = make_pledges(matter, 2)
    draw = services.draw_execute(plan=make_plan(matter=matter, ratio="1"))
    first = CheckTask.objects.filter(draw=draw).order_by("id").first()
    services.data_check_run(task=first, actor=first.lead)
    services.finding_record(
        task=first, actor=first.lead, result="truthful", method="data_check", reason="一致"
    )
    services.draw_follow_up(draw_id=draw.pk)
    statuses = dict(
        Pledge.objects.filter(pk__in=[p.pk for p in pledges]).values_list("pk", "status")
    )
    assert statuses[first.pledge_id] == PledgeStatus.VERIFIED
    assert sorted(statuses.values()) == [PledgeStatus.UNDER_CHECK, PledgeStatus.VERIFIED]


def test_the_person_and_the_officers_are_told_once(
    officers, matter, django_capture_on_commit_callbacks
):
    resident = make_resident("drawn-resident")
    pledge = sign_pledge(resident, matter)
    plan = make_plan(matter=matter, ratio="1")
    with (
        freeze_time(timezone.now() + dt.timedelta(minutes=1)),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        draw = services.draw_execute(plan=plan)
    assert callbacks  # the follow-up waits for the commit
    task = CheckTask.objects.get(draw=draw)
    assert task.pledge == pledge
    notices = Notification.objects.filter(recipient=resident, kind="verification.drawn")
    assert notices.count() == 1
    assert "/checks/my/" in notices.get().link
    assert (
        Notification.objects.filter(recipient=task.lead, kind="verification.assigned").count() == 1
    )
    services.draw_follow_up(draw_id=draw.pk)  # a rerun sends nothing twice
    Draw.objects.filter(pk=draw.pk).update(followed_up_at=None)
    services.draw_follow_up(draw_id=draw.pk)
    assert notices.count() == 1
    assert (
        Notification.objects.filter(recipient=task.lead, kind="verification.assigned").count() == 1
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_draw_in_its_own_transaction_files_exactly_the_population_it_ranked(officers, matter):
    """Committed for real: on PostgreSQL the population file is then written by a second
    connection from the draw's exported snapshot, while the first draws the sample."""
    pledges = make_pledges(matter, 60, signed_at=timezone.now() - dt.timedelta(hours=3))
    plan = make_plan(matter=matter, ratio="0.1")
    draw = services.draw_execute(plan=plan, cutoff=timezone.now() - dt.timedelta(hours=2))
    make_pledges(matter, 5)  # signed after the cutoff: not in this draw
    assert draw.population_count == 60
    numbers = [line.split("\t")[0] for line in draw.population_file.read().decode().splitlines()]
    assert numbers == sorted(p.number for p in pledges)
    assert draw_replay(draw).matches
    assert CheckTask.objects.filter(draw=draw).count() == 6
