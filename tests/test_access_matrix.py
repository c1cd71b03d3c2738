"""The role × endpoint × scope matrix of docs/access.md, as tests, and an IDOR sweep.

- The URLconf is the inventory: every URL of the project (the admin site apart, which Django's
  model permissions guard: see the last tests) must have an entry in ``MATRIX`` and a line in
  docs/access.md, so a new URL without both fails here.
- Every entry names who may use the URL (``allowed``: actors, not roles, because a scope tells
  apart two actors of one role: the clerk of the hall where a pledge was recorded and the clerk
  of another hall). Everyone else is refused: 401, 403 or 404, or sent to sign in.
- Objects belong to person A (``resident_a``), to the service hall ``HALL``, to the department
  ``SF`` (市司法局) and to the town ``Z01``. Every URL with an object in its path is tried with
  every actor, through a session and, for the API, through a token: no refused actor gets A's
  data, and a refused write leaves the database as it was.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import roles
from accounts.models import Unit
from tests.factories import (
    MatterFactory,
    UnitFactory,
    login_staff,
    make_resident,
    make_staff,
    sign_at_window,
    sign_pledge,
)

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

# ---- actors -------------------------------------------------------------------------------

#: Every actor and their role. Each role appears; scoped roles appear in and out of scope.
ACTOR_ROLES = {
    "anonymous": None,
    "resident_a": roles.RESIDENT,  # person A, who owns the objects
    "resident_b": roles.RESIDENT,
    "clerk_hall": roles.WINDOW_CLERK,  # of HALL, where A's window pledges were recorded
    "clerk_other": roles.WINDOW_CLERK,  # of another hall
    "officer_lead": roles.VERIFICATION_OFFICER,  # SF, lead officer of the check of A's pledge
    "officer_second": roles.VERIFICATION_OFFICER,  # SF, its second officer
    "officer_other": roles.VERIFICATION_OFFICER,  # SF, not on that check
    "supervisor_dept": roles.VERIFICATION_SUPERVISOR,  # SF, the matter's department
    "supervisor_other": roles.VERIFICATION_SUPERVISOR,  # PA, asked for an assisted check
    "credit_officer": roles.CREDIT_OFFICER,
    "catalog_admin": roles.CATALOG_ADMIN,
    "oversight_officer": roles.OVERSIGHT_OFFICER,
    "submitter_a": roles.LIST_SUBMITTER,  # Z01, which handed in the list
    "submitter_other": roles.LIST_SUBMITTER,  # Z02
}
ACTORS = tuple(ACTOR_ROLES)
NOBODY: frozenset[str] = frozenset()
EVERYONE = frozenset(ACTORS)
SIGNED_IN = EVERYONE - {"anonymous"}
RESIDENTS = frozenset({"resident_a", "resident_b"})
STAFF = SIGNED_IN - RESIDENTS
CLERKS = frozenset({"clerk_hall", "clerk_other"})
CHECK_STAFF = frozenset(
    {"officer_lead", "officer_second", "officer_other", "supervisor_dept", "supervisor_other"}
)
PLAN_READERS = CHECK_STAFF | {"catalog_admin", "oversight_officer"}
#: Who reads the plan of A's matter (SF) and its draw.
SF_PLAN_READERS = PLAN_READERS - {"supervisor_other"}
#: Who opens the check task of A's pledge.
TASK = frozenset({"officer_lead", "officer_second", "supervisor_dept"})
TASK_OFFICERS = frozenset({"officer_lead", "officer_second"})
LISTS = frozenset({"submitter_a", "submitter_other", "oversight_officer"})
LIST_A = frozenset({"submitter_a", "oversight_officer"})
OWNER = frozenset({"resident_a"})
CREDIT = frozenset({"credit_officer"})
BUREAU = frozenset({"oversight_officer"})


# ---- the objects --------------------------------------------------------------------------


class World:
    """Accounts for every actor, and A's objects, each made on first use."""

    def __init__(self):
        self.units = {
            "HALL": UnitFactory(
                code="HALL", name="市民之家政务服务大厅", kind=Unit.Kind.SERVICE_HALL
            ),
            "HALL2": UnitFactory(code="HALL2", name="第二服务大厅", kind=Unit.Kind.SERVICE_HALL),
            "SF": UnitFactory(code="SF", name="市司法局"),
            "PA": UnitFactory(code="PA", name="市公安局"),
            "MZ": UnitFactory(code="MZ", name="市民政局"),
            "CREDIT": UnitFactory(code="CREDIT", name="信用办", kind=Unit.Kind.BUREAU),
            "Z01": UnitFactory(code="419001-Z01", name="克井镇", kind=Unit.Kind.TOWN),
            "Z02": UnitFactory(code="419001-Z02", name="五龙口镇", kind=Unit.Kind.TOWN),
        }
        unit_of = {
            "clerk_hall": "HALL",
            "clerk_other": "HALL2",
            "supervisor_other": "PA",
            "credit_officer": "CREDIT",
            "catalog_admin": "MZ",
            "oversight_officer": "MZ",
            "submitter_a": "Z01",
            "submitter_other": "Z02",
        }
        self.users = {"anonymous": None}
        self.users["resident_a"] = make_resident("resident-a", name="甲秘密")
        self.users["resident_b"] = make_resident("resident-b", name="乙某")
        for actor, role in ACTOR_ROLES.items():
            if role in (None, roles.RESIDENT):
                continue
            unit = self.units[unit_of.get(actor, "SF")]
            self.users[actor] = make_staff(role, actor.replace("_", "-"), unit=unit)
        self.person_a = self.users["resident_a"].person

    def markers(self) -> list[str]:
        """What of A's data a refused answer must never hold."""
        person = self.person_a
        return [person.name, person.id_number, person.id_masked, person.phone]

    # ---- the catalog

    @cached_property
    def matter(self):
        return MatterFactory(
            code="SF-ACCESS",
            department=self.units["SF"],
            verification_methods=["data_check", "written", "onsite"],
        )

    @cached_property
    def guide(self):
        from oversight.demo import guide_create_default

        guide = guide_create_default(self.matter)
        material = guide.materials.order_by("position").first()
        material.blank_form.save("blank.pdf", ContentFile(PDF), save=True)
        return guide

    @cached_property
    def guide_material(self):
        return self.guide.materials.exclude(blank_form="").get()

    # ---- pledges

    @cached_property
    def pledge_online(self):
        return sign_pledge(self.users["resident_a"], self.matter)

    @cached_property
    def pledge_hall(self):
        return sign_at_window(self.users["clerk_hall"], self.person_a, self.matter)

    def _pending(self, pledge):
        from pledges.models import Pledge, PledgeStatus

        Pledge.objects.filter(pk=pledge.pk).update(status=PledgeStatus.REVOCATION_PENDING)
        pledge.refresh_from_db()
        return pledge

    @cached_property
    def pledge_pending(self):
        """A's pledge recorded at HALL, found false: awaiting its revocation."""
        return self._pending(sign_at_window(self.users["clerk_hall"], self.person_a))

    @cached_property
    def pledge_pending_online(self):
        """A's online pledge, found false before any hall handled it."""
        return self._pending(sign_pledge(self.users["resident_a"], MatterFactory()))

    @cached_property
    def promise_term(self):
        from verification.models import PromiseTerm

        return PromiseTerm.objects.create(
            template=self.pledge_hall.template, key="income", text="补交收入证明", deadline_days=30
        )

    @cached_property
    def verify_token(self):
        from pledges.selectors import verify_token

        return verify_token(self.pledge_hall)

    @cached_property
    def batch_job(self):
        from pledges import printing

        job = printing.batch_print_start(
            actor=self.users["clerk_hall"], numbers=[self.pledge_hall.number]
        )
        return printing.batch_print_run(job_id=job.pk)

    @cached_property
    def authorisation(self):
        from accounts.services import agent_authorisation_record

        b = self.users["resident_b"].person
        today = timezone.localdate()
        return agent_authorisation_record(
            actor=self.users["clerk_hall"],
            principal_id_number=self.person_a.id_number,
            principal_name=self.person_a.name,
            agent_id_number=b.id_number,
            agent_name=b.name,
            matter_code=self.matter.code,
            valid_from=today,
            valid_to=today + dt.timedelta(days=30),
            scan=SimpleUploadedFile("authorisation.pdf", PDF, content_type="application/pdf"),
        )

    # ---- verification

    @cached_property
    def task(self):
        """The check of A's pledge of an SF matter: lead, second officer, an assist request
        to PA; its officer's evidence and A's material."""
        from tests.verification.conftest import make_plan
        from verification import services
        from verification.models import CheckTask

        matter = MatterFactory(
            code="SF-CHECK",
            department=self.units["SF"],
            verification_methods=["data_check", "written", "onsite"],
        )
        pledge = sign_pledge(self.users["resident_a"], matter)
        plan = make_plan(matter=matter, ratio="1")
        draw = services.draw_execute(plan=plan, cutoff=pledge.signed_at + dt.timedelta(seconds=1))
        services.draw_follow_up(draw_id=draw.pk)
        CheckTask.objects.filter(draw=draw).update(
            lead=self.users["officer_lead"], second=self.users["officer_second"]
        )
        return CheckTask.objects.select_related("draw", "draw__plan", "pledge").get(draw=draw)

    def _evidence(self, actor):
        from verification import services

        return services.evidence_add(
            task=self.task,
            actor=self.users[actor],
            upload=SimpleUploadedFile("proof.pdf", PDF, content_type="application/pdf"),
        )

    @cached_property
    def evidence_officer(self):
        return self._evidence("officer_lead")

    @cached_property
    def evidence_resident(self):
        return self._evidence("resident_a")

    @cached_property
    def assist_request(self):
        from verification import services

        return services.assist_request_create(
            task=self.task,
            actor=self.users["officer_lead"],
            department=self.units["PA"],
            question="请核对户籍信息",
        )

    @cached_property
    def draw_closed(self):
        from verification.models import Draw

        Draw.objects.filter(pk=self.task.draw_id).update(closed_at=timezone.now())
        return self.task.draw

    # ---- credit

    @cached_property
    def credit_record(self):
        """A's draft record, in its hearing period, with A's statement and its file."""
        from credit import services
        from tests.credit.factories import draft, pdf_upload

        record = draft(self.person_a)
        services.statement_submit(
            record=record, actor=self.users["resident_a"], text="情况说明", files=[pdf_upload()]
        )
        return record

    @cached_property
    def credit_file(self):
        return self.credit_record.attachments.get()

    def _confirmed(self):
        from tests.credit.factories import confirmed

        return confirmed(self.person_a, self.users["credit_officer"])

    @cached_property
    def objection(self):
        from credit import services

        return services.objection_file(
            record=self._confirmed(), actor=self.users["resident_a"], reasons="记录有误"
        )

    @cached_property
    def repair(self):
        from credit import services
        from credit.models import CreditRecord

        record = self._confirmed()
        CreditRecord.objects.filter(pk=record.pk).update(
            repair_possible_on=timezone.localdate() - dt.timedelta(days=1)
        )
        return services.repair_apply(
            record=record,
            actor=self.users["resident_a"],
            credit_pledge="本人承诺所提交材料真实",
            correction="已纠正",
        )

    @cached_property
    def checkpoint(self):
        from credit import ledger

        assert self.credit_record.pk  # a ledger with events in it
        return ledger.checkpoint()

    # ---- oversight

    @cached_property
    def complaint(self):
        from oversight import services

        return services.complaint_file(
            data={
                "agency": "某单位",
                "certificate": "居住证明",
                "description": "要求开证明",
                "occurred_on": timezone.localdate(),
            },
            actor=AnonymousUser(),
            attachments=[SimpleUploadedFile("note.pdf", PDF, content_type="application/pdf")],
        )

    @cached_property
    def complaint_token(self):
        from oversight.selectors import complaint_token

        return complaint_token(self.complaint)

    @cached_property
    def catalog_list(self):
        from oversight import services
        from tests.oversight.conftest import make_xlsx, row, upload

        submitted = services.catalog_list_submit(
            actor=self.users["submitter_a"], upload=upload(make_xlsx([row()]))
        )
        return services.catalog_list_import(catalog_list_id=submitted.pk)

    @cached_property
    def quarter(self):
        from oversight import quarters

        return quarters.of(timezone.localdate())

    @cached_property
    def report_job(self):
        from oversight import services

        job = services.report_export_start(
            quarter=self.quarter, fmt="xlsx", actor=self.users["oversight_officer"]
        )
        return services.report_export_run(job_id=job.pk)

    @cached_property
    def prepared_report(self):
        from oversight import services

        return services.quarterly_report_prepare(quarter=self.quarter)

    # ---- clients

    def client(self, actor: str, *, api: bool, token: bool):
        """A signed-in client of ``actor``, made once per world."""
        cache = self.__dict__.setdefault("_clients", {})
        key = (actor, api, token)
        if key not in cache:
            cache[key] = self._new_client(actor, api=api, token=token)
        return cache[key]

    def _new_client(self, actor: str, *, api: bool, token: bool):
        user = self.users[actor]
        client = APIClient() if api else Client()
        if user is None:
            return client
        if token:
            key = Token.objects.get_or_create(user=user)[0].key
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        elif roles.is_staff_role(user):
            login_staff(client, user)  # signed in with the second factor passed
        else:
            client.force_login(user)
        return client


# ---- the matrix ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """One way to call a URL: its path arguments, query and body, and who may use it."""

    allowed: frozenset
    kwargs: Callable[[World], dict] | None = None
    query: Callable[[World], dict] | None = None
    body: Callable[[World], dict] | None = None
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Route:
    cases: tuple[Case, ...]
    method: str = "get"


def route(allowed, method="get", **case) -> Route:
    return Route(cases=(Case(allowed=frozenset(allowed), **case),), method=method)


def cases(*items: Case, method="get") -> Route:
    return Route(cases=items, method=method)


def pledge(attr: str) -> Callable[[World], dict]:
    return lambda w: {"number": getattr(w, attr).number}


def pk(attr: str, name: str = "pk") -> Callable[[World], dict]:
    return lambda w: {name: getattr(w, attr).pk}


def task_kwargs(name: str = "pk") -> Callable[[World], dict]:
    return lambda w: {name: w.task.pk}


def complaint_number(name: str) -> Callable[[World], dict]:
    return lambda w: {name: w.complaint.tracking_number}


def reason(w) -> dict:
    return {"reason": "核对异议"}


MATTER = lambda w: {"code": w.matter.code}  # noqa: E731
HALL_PLEDGE = frozenset({"resident_a", "clerk_hall"})

MATRIX: dict[str, Route] = {
    # ---- site-wide --------------------------------------------------------------------
    "set_language": route(EVERYONE, "post", body=lambda w: {"language": "en"}),
    "schema": route(EVERYONE),
    "swagger-ui": route(EVERYONE),
    # ---- accounts: sign-in, privacy, own data, the audit log ----------------------------
    "api-token": route(EVERYONE, "post", body=lambda w: {"username": "x", "password": "y"}),
    "api-my-data": route(SIGNED_IN),
    "api-audit-events": route(BUREAU),
    "accounts:login": route(EVERYONE),
    "accounts:login_verify": route(
        SIGNED_IN, note="a visitor with no code pending is sent back to sign in"
    ),
    "accounts:logout": route(EVERYONE, "post"),
    "accounts:register": route(EVERYONE),
    "accounts:two_factor": route(STAFF),
    "accounts:password_reset": route(EVERYONE),
    "accounts:password_reset_confirm": route(EVERYONE),
    "accounts:privacy": route(EVERYONE),
    "accounts:privacy_version": route(EVERYONE, kwargs=lambda w: {"version": "2026-01"}),
    "accounts:my_data": route(SIGNED_IN),
    "accounts:my_data_download": route(SIGNED_IN, kwargs=lambda w: {"fmt": "json"}),
    "accounts:audit": route(BUREAU),
    # ---- the window: agents' authorisations ---------------------------------------------
    "agents:list": route(CLERKS),
    "agents:revoke": route(
        {"clerk_hall"}, "post", kwargs=pk("authorisation"), body=lambda w: {"reason": "撤回"}
    ),
    "agents:scan": route({"clerk_hall"}, kwargs=pk("authorisation")),
    # ---- core -------------------------------------------------------------------------
    "core:notifications": route(SIGNED_IN),
    "core:display_mode": route(EVERYONE, "post", body=lambda w: {"elder": "1"}),
    "core:healthz": route(EVERYONE),
    "core:readyz": route(EVERYONE),
    "core:metrics": route(EVERYONE, note="by client address, not by account"),
    # ---- the catalog and pledges --------------------------------------------------------
    "api-matter-list": route(EVERYONE),
    "api-matter-detail": route(EVERYONE, kwargs=MATTER),
    "api-matter-blank-form": route(EVERYONE, kwargs=MATTER),
    "api-pledge-list": route(SIGNED_IN),
    "api-pledge-lookup": route(CLERKS, "post", body=lambda w: {"id_number": w.person_a.id_number}),
    "api-pledge-detail": cases(
        Case(HALL_PLEDGE, kwargs=pledge("pledge_hall")),
        Case(OWNER, kwargs=pledge("pledge_online"), note="no hall handled it"),
    ),
    "api-pledge-pdf": cases(
        Case(HALL_PLEDGE, kwargs=pledge("pledge_hall")),
        Case(OWNER, kwargs=pledge("pledge_online")),
    ),
    "api-pledge-withdraw": cases(
        Case(HALL_PLEDGE, kwargs=pledge("pledge_hall")),
        Case(OWNER, kwargs=pledge("pledge_online")),
        method="post",
    ),
    "api-pledge-decision": cases(
        Case(frozenset({"clerk_hall"}), kwargs=pledge("pledge_hall")),
        Case(NOBODY, kwargs=pledge("pledge_online")),
        method="post",
    ),
    "api-pledge-revocation": cases(
        Case(frozenset({"clerk_hall"}), kwargs=pledge("pledge_pending")),
        Case(CLERKS, kwargs=pledge("pledge_pending_online"), note="no hall handled it"),
        method="post",
    ),
    "pledges:home": route(EVERYONE),
    "pledges:matter_detail": route(EVERYONE, kwargs=MATTER),
    "pledges:choose_certificate": route(RESIDENTS, "post", kwargs=MATTER),
    "pledges:my_pledges": route(RESIDENTS),
    "pledges:pledge_detail": cases(
        Case(HALL_PLEDGE, kwargs=pledge("pledge_hall")),
        Case(OWNER, kwargs=pledge("pledge_online")),
    ),
    "pledges:window": route(CLERKS),
    "pledges:window_decide": cases(
        Case(frozenset({"clerk_hall"}), kwargs=pledge("pledge_hall")),
        Case(NOBODY, kwargs=pledge("pledge_online")),
        method="post",
    ),
    "printing:verify": cases(
        Case(
            EVERYONE,
            kwargs=lambda w: {"number": w.pledge_hall.number, "token": w.verify_token},
        ),
        Case(NOBODY, kwargs=lambda w: {"number": w.pledge_hall.number, "token": "forged"}),
    ),
    "printing:window_print": cases(
        Case(frozenset({"clerk_hall"}), kwargs=pledge("pledge_hall")),
        Case(NOBODY, kwargs=pledge("pledge_online")),
    ),
    "printing:window_paper": route(CLERKS),
    "printing:window_blank": route(CLERKS),
    "printing:window_blank_form": route(CLERKS, kwargs=MATTER),
    "printing:window_batch": route(CLERKS),
    "printing:window_batch_job": cases(
        Case(frozenset({"clerk_hall"}), kwargs=pk("batch_job", "job_id")),
        Case(NOBODY, kwargs=pk("report_job", "job_id"), note="another app's job"),
    ),
    "printing:window_batch_status": route({"clerk_hall"}, kwargs=pk("batch_job", "job_id")),
    "printing:window_batch_download": route({"clerk_hall"}, kwargs=pk("batch_job", "job_id")),
    # ---- credit -----------------------------------------------------------------------
    "api-credit-ledger-verify": route(CREDIT),
    "api-credit-file": route(OWNER | CREDIT, kwargs=pk("credit_file")),
    "api-credit-record-list": route(CREDIT),
    "api-credit-record-detail": route(CREDIT, kwargs=pk("credit_record"), query=reason),
    "api-credit-record-decisions": route(
        CREDIT, "post", kwargs=pk("credit_record"), body=lambda w: {"decision": "annul"}
    ),
    "api-credit-objection-list": route(RESIDENTS | CREDIT),
    "api-credit-objection-detail": route(OWNER | CREDIT, kwargs=pk("objection")),
    "api-credit-objection-decision": route(
        CREDIT,
        "post",
        kwargs=pk("objection"),
        body=lambda w: {"decision": "rejected", "reason": "维持"},
    ),
    "api-credit-repair-list": route(RESIDENTS | CREDIT),
    "api-credit-repair-detail": route(OWNER | CREDIT, kwargs=pk("repair")),
    "api-credit-repair-decision": route(
        CREDIT, "post", kwargs=pk("repair"), body=lambda w: {"decision": "rejected"}
    ),
    "api-credit-checkpoint-list": route(EVERYONE),
    "api-credit-checkpoint-detail": route(
        EVERYONE, kwargs=lambda w: {"day": w.checkpoint.day.isoformat()}
    ),
    "api-my-credit-list": route(SIGNED_IN, note="each their own records"),
    "api-my-credit-detail": route(OWNER, kwargs=pk("credit_record")),
    "api-my-credit-statement": route(
        OWNER, "post", kwargs=pk("credit_record"), body=lambda w: {"text": "补充说明"}
    ),
    "credit:my_credit": route(SIGNED_IN, note="each their own records"),
    "credit:my_record": route(OWNER, kwargs=pk("credit_record")),
    "credit:statement": route(OWNER, "post", kwargs=pk("credit_record")),
    "credit:objection": route(OWNER, "post", kwargs=pk("credit_record")),
    "credit:repair": route(OWNER, "post", kwargs=pk("credit_record")),
    "credit:file": route(OWNER | CREDIT, kwargs=pk("credit_file")),
    "credit:office": route(CREDIT),
    "credit:office_record": route(CREDIT, kwargs=pk("credit_record"), query=reason),
    "credit:office_decide": route(CREDIT, "post", kwargs=pk("credit_record")),
    "credit:office_objection_decide": route(CREDIT, "post", kwargs=pk("objection")),
    "credit:office_repair_decide": route(CREDIT, "post", kwargs=pk("repair")),
    "credit:office_ledger": route(CREDIT),
    "credit:public": route(EVERYONE),
    "credit:checkpoints": route(EVERYONE),
    # ---- verification -----------------------------------------------------------------
    "api-verification-plan-list": route(PLAN_READERS),
    "api-verification-plan-detail": route(
        SF_PLAN_READERS, kwargs=lambda w: {"pk": w.task.draw.plan_id}
    ),
    "api-verification-draw-list": route(PLAN_READERS),
    "api-verification-draw-detail": route(SF_PLAN_READERS, kwargs=lambda w: {"pk": w.task.draw_id}),
    "api-verification-draw-population": route(
        SF_PLAN_READERS, kwargs=lambda w: {"pk": w.task.draw_id}
    ),
    "api-verification-task-list": route(CHECK_STAFF),
    "api-verification-task-detail": route(TASK, kwargs=task_kwargs()),
    "api-verification-task-findings": route(
        {"officer_lead"},
        "post",
        kwargs=task_kwargs(),
        body=lambda w: {"result": "nonsense"},
        note="in scope, the service refuses all but the lead (403)",
    ),
    "api-verification-task-countersign": route(
        {"officer_second"}, "post", kwargs=task_kwargs(), note="409 until there is a finding"
    ),
    "api-verification-task-assist-requests": route(TASK, kwargs=task_kwargs()),
    "api-verification-task-assist-answer": route(
        {"officer_lead", "supervisor_other"},
        "post",
        kwargs=lambda w: {"pk": w.task.pk, "request_id": w.assist_request.pk},
        body=lambda w: {"answer": "户籍信息一致"},
        note="the lead, or staff of the department asked",
    ),
    "api-verification-task-data-check": route(TASK_OFFICERS, "post", kwargs=task_kwargs()),
    "api-verification-task-evidence": route(TASK, kwargs=task_kwargs()),
    "api-verification-task-reassign": route(
        {"supervisor_dept"}, "post", kwargs=task_kwargs(), body=lambda w: {}
    ),
    "api-verification-evidence": cases(
        Case(TASK, kwargs=pk("evidence_officer")),
        Case(TASK | OWNER, kwargs=pk("evidence_resident"), note="A's own material"),
    ),
    "verification:workbench": route(CHECK_STAFF),
    "verification:task": route(TASK, kwargs=task_kwargs("task_id")),
    "verification:task_evidence": route(TASK, "post", kwargs=task_kwargs("task_id")),
    "verification:task_data_check": route(TASK, "post", kwargs=task_kwargs("task_id")),
    "verification:task_assist": route(TASK, "post", kwargs=task_kwargs("task_id")),
    "verification:task_assist_answer": route(
        TASK | {"supervisor_other"},
        "post",
        kwargs=lambda w: {"task_id": w.task.pk, "request_id": w.assist_request.pk},
    ),
    "verification:task_countersign": route(TASK, "post", kwargs=task_kwargs("task_id")),
    "verification:task_reassign": route({"supervisor_dept"}, "post", kwargs=task_kwargs("task_id")),
    "verification:evidence": cases(
        Case(TASK, kwargs=pk("evidence_officer", "evidence_id")),
        Case(TASK | OWNER, kwargs=pk("evidence_resident", "evidence_id")),
    ),
    "verification:draws": route(PLAN_READERS),
    "verification:draw_run": route(
        {"supervisor_dept", "catalog_admin"},
        "post",
        kwargs=lambda w: {"plan_id": w.task.draw.plan_id},
    ),
    "verification:draw": route(SF_PLAN_READERS, kwargs=lambda w: {"draw_id": w.task.draw_id}),
    "verification:draw_population": route(
        SF_PLAN_READERS, kwargs=lambda w: {"draw_id": w.task.draw_id}
    ),
    "verification:my_checks": route(RESIDENTS),
    "verification:my_check_material": route(OWNER, "post", kwargs=task_kwargs("task_id")),
    "verification:promise_fulfil": route(
        HALL_PLEDGE,
        "post",
        kwargs=lambda w: {"number": w.pledge_hall.number, "term_id": w.promise_term.pk},
    ),
    "verification:revocations": route(CLERKS),
    "verification:revoke": cases(
        Case(frozenset({"clerk_hall"}), kwargs=pledge("pledge_pending")),
        Case(CLERKS, kwargs=pledge("pledge_pending_online")),
        method="post",
    ),
    "verification:public": route(EVERYONE),
    "verification:public_population": cases(
        # In this order: the draw is closed by the second case.
        Case(NOBODY, kwargs=lambda w: {"draw_id": w.task.draw_id}, note="not public yet"),
        Case(EVERYONE, kwargs=lambda w: {"draw_id": w.draw_closed.pk}, note="a finished draw"),
    ),
    # ---- oversight --------------------------------------------------------------------
    "api-guide-list": route(EVERYONE),
    "api-guide-detail": route(EVERYONE, kwargs=lambda w: {"code": w.guide.matter.code}),
    "api-catalog-list-list": route(LISTS),
    "api-catalog-list-export": route(LISTS),
    "api-catalog-list-template": route(LISTS),
    "api-catalog-list-detail": route(LIST_A, kwargs=pk("catalog_list")),
    "api-catalog-list-diff": route(LIST_A, kwargs=pk("catalog_list")),
    "api-catalog-list-errors": route(LIST_A, kwargs=pk("catalog_list")),
    "api-catalog-list-merge": route(BUREAU, "post", kwargs=pk("catalog_list")),
    "api-catalog-list-reject": route(
        BUREAU, "post", kwargs=pk("catalog_list"), body=lambda w: {"note": "重做"}
    ),
    "api-complaint-list": route(BUREAU),
    "api-complaint-notices": route(EVERYONE),
    "api-complaint-detail": cases(
        Case(BUREAU, kwargs=complaint_number("tracking_number")),
        Case(
            EVERYONE,
            kwargs=complaint_number("tracking_number"),
            query=lambda w: {"token": w.complaint_token},
            note="whoever holds the tracking token",
        ),
    ),
    **{
        f"api-complaint-{action}": route(BUREAU, "post", kwargs=complaint_number("tracking_number"))
        for action in ("answer", "close", "forward", "publish", "triage", "unpublish")
    },
    "api-quarterly-report": route(STAFF, note="aggregate figures, no personal data"),
    "api-quarterly-report-export": route(BUREAU, "post", body=lambda w: {"format": "xlsx"}),
    "api-quarterly-report-job": route(BUREAU, kwargs=pk("report_job")),
    "api-quarterly-report-file": route(BUREAU, kwargs=pk("report_job")),
    "oversight:guide_list": route(EVERYONE),
    "oversight:guide_detail": route(EVERYONE, kwargs=lambda w: {"code": w.guide.matter.code}),
    "oversight:guide_pdf": route(EVERYONE, kwargs=lambda w: {"code": w.guide.matter.code}),
    "oversight:guide_form_file": route(
        EVERYONE,
        kwargs=lambda w: {"code": w.guide.matter.code, "pk": w.guide_material.pk, "kind": "blank"},
    ),
    "oversight:complaint_new": route(EVERYONE),
    "oversight:complaint_track_lookup": route(EVERYONE),
    "oversight:complaint_track": cases(
        Case(
            EVERYONE,
            kwargs=lambda w: {"number": w.complaint.tracking_number, "token": w.complaint_token},
        ),
        Case(NOBODY, kwargs=lambda w: {"number": w.complaint.tracking_number, "token": "x"}),
    ),
    "oversight:notices": route(EVERYONE),
    "oversight:dashboard": route(STAFF, note="aggregate figures, no personal data"),
    "oversight:report_export": route(BUREAU, "post", body=lambda w: {"format": "xlsx"}),
    "oversight:prepared_report_file": route(
        STAFF, kwargs=lambda w: {"quarter": w.prepared_report.quarter, "fmt": "xlsx"}
    ),
    "oversight:job_detail": cases(
        Case(BUREAU, kwargs=pk("report_job")),
        Case(NOBODY, kwargs=pk("batch_job"), note="a window's batch of printed forms"),
    ),
    "oversight:job_status": cases(
        Case(BUREAU, kwargs=pk("report_job")),
        Case(NOBODY, kwargs=pk("batch_job")),
    ),
    "oversight:job_download": cases(
        Case(BUREAU, kwargs=pk("report_job")),
        Case(NOBODY, kwargs=pk("batch_job")),
    ),
    "oversight:complaint_list": route(BUREAU),
    "oversight:complaint_hotline": route(STAFF),
    "oversight:complaint_detail": route(BUREAU, kwargs=complaint_number("number")),
    "oversight:complaint_pdf": route(BUREAU, kwargs=complaint_number("number")),
    "oversight:complaint_attachment": route(
        BUREAU,
        kwargs=lambda w: {
            "number": w.complaint.tracking_number,
            "pk": w.complaint.attachments.get().pk,
        },
    ),
    "oversight:list_index": route(LISTS),
    "oversight:list_template": route(LISTS),
    "oversight:catalog_export": route(LISTS, kwargs=lambda w: {"fmt": "xlsx"}),
    "oversight:list_detail": route(LIST_A, kwargs=pk("catalog_list")),
    "oversight:list_errors": route(
        LIST_A, kwargs=lambda w: {"pk": w.catalog_list.pk, "fmt": "csv"}
    ),
}


# ---- the URLconf as inventory ---------------------------------------------------------------


def _kwarg_names(pattern) -> set[str]:
    inner = pattern.pattern
    if hasattr(inner, "converters") and inner.converters:
        return set(inner.converters)
    return set(inner.regex.groupindex)


def project_urls() -> dict[str, set[str]]:
    """Every URL of the project by name (``namespace:name``), with its path arguments; the
    admin site apart. A URL without a name is listed by its route, so it fails the matrix."""
    found: dict[str, set[str]] = {}

    def walk(patterns, namespace, kwargs):
        for item in patterns:
            if isinstance(item, URLResolver):
                inner = namespace
                if item.namespace:
                    inner = f"{namespace}:{item.namespace}" if namespace else item.namespace
                if inner == "admin":
                    continue
                walk(item.url_patterns, inner, kwargs | _kwarg_names(item))
            elif isinstance(item, URLPattern):
                name = item.name or f"unnamed {item.pattern}"
                key = f"{namespace}:{name}" if namespace else name
                assert key not in found, f"two URLs named {key}"
                found[key] = kwargs | _kwarg_names(item)

    walk(get_resolver().url_patterns, "", set())
    return found


URLS = project_urls()
OBJECT_URLS = sorted(name for name, kwargs in URLS.items() if kwargs)
PLAIN_URLS = sorted(name for name, kwargs in URLS.items() if not kwargs)


def test_every_url_of_the_project_has_a_matrix_entry():
    missing = sorted(set(URLS) - set(MATRIX))
    stale = sorted(set(MATRIX) - set(URLS))
    assert missing == [], f"URLs without an access rule in MATRIX and docs/access.md: {missing}"
    assert stale == [], f"MATRIX entries for URLs that no longer exist: {stale}"


def test_every_object_url_has_its_object_in_every_case():
    for name in OBJECT_URLS:
        for case in MATRIX[name].cases:
            assert case.kwargs is not None, f"{name} takes {URLS[name]}: say which object"


def test_every_url_is_in_docs_access_md():
    text = (Path(__file__).resolve().parent.parent / "docs" / "access.md").read_text()
    undocumented = [name for name in URLS if f"`{name}`" not in text]
    assert undocumented == []


def test_every_role_is_an_actor_of_the_matrix():
    assert set(roles.ALL_ROLES) <= set(ACTOR_ROLES.values())


# ---- calling a URL as an actor ----------------------------------------------------------------


def is_api(name: str) -> bool:
    return name.startswith("api-") or name in ("schema", "swagger-ui")


def refused(response) -> bool:
    """401, 403, 404, or sent to sign in."""
    if response.status_code in (401, 403, 404):
        return True
    location = response.get("Location", "") if response.status_code == 302 else ""
    return location.startswith(("/accounts/login/", "/admin/login/"))


def body_text(response) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    return content.decode("utf-8", "replace")


def fingerprint() -> tuple:
    """The state a refused request must leave alone: every row count, every state column."""
    from django.apps import apps

    counts = tuple(
        (model._meta.label, model._default_manager.count())
        for model in apps.get_models()
        if model._meta.app_label in ("accounts", "core", "credit", "pledges", "verification")
        or model._meta.app_label == "oversight"
    )
    from credit.models import CreditRecord, Objection, RepairApplication
    from oversight.models import CatalogList, Complaint
    from pledges.models import Pledge
    from verification.models import AssistRequest, CheckTask

    states = (
        tuple(Pledge.objects.order_by("pk").values_list("pk", "status", "revoked_at")),
        tuple(CheckTask.objects.order_by("pk").values_list("pk", "lead", "second", "status")),
        tuple(AssistRequest.objects.order_by("pk").values_list("pk", "answered_at")),
        tuple(CreditRecord.objects.order_by("pk").values_list("pk", "state")),
        tuple(Objection.objects.order_by("pk").values_list("pk", "status")),
        tuple(RepairApplication.objects.order_by("pk").values_list("pk", "status")),
        tuple(Complaint.objects.order_by("pk").values_list("pk", "status", "published_at")),
        tuple(CatalogList.objects.order_by("pk").values_list("pk", "status")),
    )
    return counts, states


def prepare(world: World, name: str, case: Case) -> tuple[str, dict, dict]:
    """The URL, query and body of a case; A's objects are made here, before any request."""
    url = reverse(name, kwargs=case.kwargs(world) if case.kwargs else None)
    return url, case.query(world) if case.query else {}, case.body(world) if case.body else {}


def call(client, method: str, url: str, query: dict, body: dict, *, api: bool):
    if method == "get":
        return client.get(url, query)
    if query:
        url = f"{url}?{urlencode(query)}"
    if api:
        return client.post(url, body, format="json")
    return client.post(url, body)


def transports(name: str, actor: str) -> tuple[bool, ...]:
    """Pages (and the public schema) through a session; the API through a session and
    through a token."""
    if name.startswith("api-") and actor != "anonymous":
        return (False, True)
    return (False,)


def sweep(world: World, name: str, case: Case, method: str) -> list[str]:
    """Call as every actor: the refused first (each must leave no trace), then the allowed."""
    problems = []
    markers = world.markers()
    order = [a for a in ACTORS if a not in case.allowed] + [a for a in ACTORS if a in case.allowed]
    url, query, body = prepare(world, name, case)
    refused_actors = [a for a in order if a not in case.allowed]
    # Sign-ins are audited: sign everyone in first, so the fingerprint sees only the requests.
    for actor in order:
        for token in transports(name, actor):
            world.client(actor, api=is_api(name), token=token)
    # The refused go first: the database must be the same after all of them as before (one
    # comparison for the lot keeps the sweep fast; a failure names who was refused).
    before = fingerprint()
    unchanged_checked = False

    def check_unchanged():
        if fingerprint() != before:
            problems.append(
                f"{name} {case.note}: a refused request changed the database "
                f"(refused: {', '.join(refused_actors)})"
            )

    for actor in order:
        if actor in case.allowed and not unchanged_checked:
            check_unchanged()
            unchanged_checked = True
        for token in transports(name, actor):
            client = world.client(actor, api=is_api(name), token=token)
            response = call(client, method, url, query, body, api=is_api(name))
            how = f"{name} {case.note} as {actor} by {'token' if token else 'session'}"
            if response.status_code >= 500 or response.status_code == 405:
                problems.append(f"{how}: {response.status_code}")
            elif actor in case.allowed:
                if refused(response):
                    problems.append(f"{how}: refused ({response.status_code}), should be allowed")
            else:
                if not refused(response):
                    problems.append(f"{how}: {response.status_code}, should be refused")
                # A's own pages show A's name in the header: A's data is A's to see.
                text = body_text(response) if actor != "resident_a" else ""
                leaked = [m for m in markers if m and m in text]
                if leaked:
                    problems.append(f"{how}: the refusal shows A's data {leaked}")
    if not unchanged_checked:
        check_unchanged()
    return problems


@pytest.fixture
def world(settings, tmp_path):
    settings.CHENGNUO_CREDIT_EXPORT_DIR = str(tmp_path / "credit-exports")
    settings.LANGUAGE_CODE = "en"
    return World()


@pytest.mark.parametrize("name", PLAIN_URLS)
def test_route_matrix(world, name):
    """Each URL without an object × every actor: the roles it is for get in, no one else."""
    entry = MATRIX[name]
    problems = []
    for case in entry.cases:
        problems += sweep(world, name, case, entry.method)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", OBJECT_URLS)
def test_idor_sweep(world, name):
    """Each URL naming an object of A × every actor, by session and by token: those in its
    scope get in; everyone else gets 401/403/404, none of A's data and no change."""
    entry = MATRIX[name]
    problems = []
    for case in entry.cases:
        problems += sweep(world, name, case, entry.method)
    assert not problems, "\n".join(problems)


# ---- what each actor's lists hold ----------------------------------------------------------


def test_lists_hold_only_what_is_in_scope(world):
    """The list endpoints filter by the same scopes: counts per actor."""
    for made in (world.pledge_hall, world.pledge_online, world.task, world.catalog_list):
        assert made.pk

    def count(actor, url):
        response = world.client(actor, api=True, token=True).get(url)
        assert response.status_code == 200, (actor, url, response.status_code)
        return response.json()["count"]

    pledges = "/api/v1/pledges/"
    assert count("resident_a", pledges) == 3  # two signed online (one drawn), one at the hall
    assert count("resident_b", pledges) == 0
    assert count("clerk_hall", pledges) == 1
    assert count("clerk_other", pledges) == 0
    for actor in ("officer_lead", "supervisor_dept", "credit_officer", "oversight_officer"):
        assert count(actor, pledges) == 0
    tasks = "/api/v1/verification/tasks/"
    assert count("officer_lead", tasks) == 1
    assert count("officer_other", tasks) == 0
    assert count("supervisor_dept", tasks) == 1
    assert count("supervisor_other", tasks) == 0
    assert count("officer_second", tasks + "?as=second") == 1
    draws = "/api/v1/verification/draws/"
    assert count("supervisor_dept", draws) == 1
    assert count("supervisor_other", draws) == 0
    assert count("oversight_officer", draws) == 1
    plans = "/api/v1/verification/plans/"
    assert count("supervisor_other", plans) == 0
    assert count("catalog_admin", plans) == 1
    lists = "/api/v1/catalog-lists/"
    assert count("submitter_a", lists) == 1
    assert count("submitter_other", lists) == 0
    assert count("oversight_officer", lists) == 1


def test_a_clerk_serves_a_resident_only_after_looking_them_up(world):
    """The online pledge of A opens to the clerk who looked A up at the window, to no one
    else, and the lookup is in the audit log."""
    from core.models import AuditEvent

    url = reverse("api-pledge-detail", kwargs={"number": world.pledge_online.number})
    clerk = world.client("clerk_other", api=True, token=True)
    assert clerk.get(url).status_code == 404
    lookup = clerk.post(
        reverse("api-pledge-lookup"), {"id_number": world.person_a.id_number}, format="json"
    )
    assert [row["number"] for row in lookup.json()["results"]] == [world.pledge_online.number]
    assert clerk.get(url).status_code == 200
    assert world.client("clerk_hall", api=True, token=True).get(url).status_code == 404
    event = AuditEvent.objects.get(action="pledge.window_lookup")
    assert (event.actor, event.person_hash) == (world.users["clerk_other"], world.person_a.id_hash)


def test_an_area_includes_the_units_under_it(world):
    """A unit's scope takes in the units whose parent it is (a window of a hall, a desk of
    that window), never the unit above it."""
    from accounts.selectors import unit_scope_ids

    window = UnitFactory(code="HALL-W1", kind=Unit.Kind.SERVICE_HALL, parent=world.units["HALL"])
    desk = UnitFactory(code="HALL-W1-D", kind=Unit.Kind.SERVICE_HALL, parent=window)
    assert set(unit_scope_ids(world.users["clerk_hall"])) == {
        world.units["HALL"].pk,
        window.pk,
        desk.pk,
    }
    desk_clerk = make_staff("window_clerk", "desk-clerk", unit=desk)
    at_desk = sign_at_window(desk_clerk, world.person_a)
    hall = world.client("clerk_hall", api=True, token=True)
    assert hall.get(reverse("api-pledge-detail", args=[at_desk.number])).status_code == 200
    desk_client = APIClient()
    desk_client.force_authenticate(desk_clerk)
    at_hall = reverse("api-pledge-detail", args=[world.pledge_hall.number])
    assert desk_client.get(at_hall).status_code == 404


# ---- the admin site -----------------------------------------------------------------------


ADMIN_ARGUMENTS = {"object_id": "999999", "pk": 999999, "id": "999999", "content_type_id": "1"}


def _admin_object_urls() -> list[tuple[str, str, set[str]]]:
    """Every admin URL with arguments: (URL name, the model's label, the argument names)."""
    from django.conf import settings
    from django.contrib import admin

    by_prefix = {
        f"{model._meta.app_label}_{model._meta.model_name}_": model._meta.label_lower
        for model in admin.site._registry
    }
    by_prefix["auth_user_"] = settings.AUTH_USER_MODEL.lower()  # UserAdmin's password page
    found = []

    def walk(patterns, namespace):
        for item in patterns:
            if isinstance(item, URLResolver):
                walk(item.url_patterns, item.namespace or namespace)
            elif namespace == "admin" and item.name and _kwarg_names(item):
                prefix = next((p for p in by_prefix if item.name.startswith(p)), None)
                # The site's own pages (an app's index, "view on site") belong to no model.
                label = by_prefix[prefix] if prefix else "admin site"
                found.append((f"admin:{item.name}", label, _kwarg_names(item)))

    walk(get_resolver().url_patterns, "")
    return found


#: Models the catalog administrator must never reach in the admin: personal data, credit,
#: complaints, the audit log, second factors and tokens.
NEVER_FOR_CATALOG_ADMIN = re.compile(
    r"^(accounts\..*|credit\..*|core\.(auditevent|notification|backgroundjob)|"
    r"oversight\.(complaint.*|cataloglist.*)|otp_.*|authtoken\..*|pledges\.pledge|"
    r"verification\.(evidence|finding|assistrequest|promisefulfilment))$"
)


def test_the_admin_site_follows_model_permissions(world):
    """Every admin URL naming an object is closed to every actor but the catalog
    administrator, who reaches only the models ``load_demo`` grants, never personal data."""
    from django.contrib.auth.models import Group

    from oversight import demo as oversight_demo
    from pledges import demo as pledges_demo
    from verification import demo as verification_demo

    pledges_demo.grant_catalog_admin_permissions()
    verification_demo.grant_catalog_admin_permissions()
    oversight_demo.grant_catalog_admin_permissions()
    granted = {
        f"{app}.{model}"
        for app, model in Group.objects.get(name=roles.CATALOG_ADMIN).permissions.values_list(
            "content_type__app_label", "content_type__model"
        )
    }
    assert sorted(label for label in granted if NEVER_FOR_CATALOG_ADMIN.match(label)) == []
    from django.apps import apps

    made = (world.task, world.credit_record, world.objection, world.complaint)
    made += (world.catalog_list, world.authorisation, world.evidence_officer)
    assert all(item.pk for item in made)  # objects of the sensitive models, to open
    for actor in STAFF:
        Token.objects.get_or_create(user=world.users[actor])
    urls = _admin_object_urls()
    assert len(urls) > 50
    problems = []
    for name, label, arguments in urls:
        values = dict(ADMIN_ARGUMENTS)
        model = apps.get_model(label) if label != "admin site" else None
        existing = model._default_manager.order_by("pk").first() if model else None
        if existing is not None:
            values.update(object_id=str(existing.pk), pk=existing.pk, id=str(existing.pk))
        url = reverse(name, kwargs={a: values.get(a, "credit") for a in arguments})
        for actor in ACTORS:
            response = world.client(actor, api=False, token=False).get(url)
            if response.status_code >= 500:
                problems.append(f"{name} as {actor}: {response.status_code}")
            elif actor == "catalog_admin" and (label in granted or label == "admin site"):
                continue  # their own models (an unknown id sends them back to the index)
            elif existing is None and response.get("Location") == "/admin/":
                continue  # no such object: sent back to the index, nothing shown
            elif not refused(response):
                problems.append(f"{name} ({label}) as {actor}: {response.status_code}")
    assert not problems, "\n".join(problems)
