"""The API fuzzed against its own OpenAPI schema with schemathesis (issue 7, "Tests").

Every operation the project's ``/api/schema/`` describes gets generated requests, valid ones
and invalid ones (schemathesis' negative mode), as each identity: anonymous, a resident and
one account per staff role, each signed in with a token from ``POST /api/v1/auth/token/``
(staff with the code of their authenticator). Every answer must

- not be a server error (5xx),
- have a status code and a content type the schema documents for the operation,
- have a body that matches the documented schema (the error body of ``core.schema`` too).

Requests go in-process through Django's WSGI handler (``InProcessWSGI``), inside the test's
transaction. Path parameters are generated from the schema, and for some cases taken from a
world of real objects built with the factories and services below, so requests also reach
real pledges, tasks, records and files, in and out of each identity's scope.

Rate limits are lifted for the run (``unthrottled``): past them every case would answer 429
and test nothing else; 429 stays documented on every operation.

Bounded and reproducible: ``FUZZ_EXAMPLES`` cases per operation and identity (default 3: two
valid, one invalid; ``make fuzz`` runs this file alone with more), derandomised (the same cases
every run), no shrinking (a failure is reported as found, with its curl command). The cases
actually run are counted, and the run must reach ``MIN_CASES``.
"""

import datetime as dt
import logging
import os
from collections import Counter
from dataclasses import dataclass

import pytest
import schemathesis
from django.contrib.auth.models import AnonymousUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis import checks as schemathesis_checks

from accounts import roles
from accounts.models import Unit
from core.throttling import AnonymousRateThrottle, TokenRateThrottle
from credit import ledger
from credit import services as credit_services
from oversight import demo as oversight_demo
from oversight import services as oversight_services
from pledges import services as pledge_services
from tests.credit.factories import confirmed, draft, pdf_upload
from tests.factories import (
    SIGNATURE_PNG,
    MatterFactory,
    UnitFactory,
    make_resident,
    make_staff,
    sign_pledge,
    totp_code,
    valid_id_number,
)
from tests.oversight.conftest import make_xlsx, row
from tests.verification.conftest import make_plan
from verification import services as verification_services
from verification.models import CheckTask

#: Cases per operation and identity: a third with invalid input, the rest valid (where an
#: operation takes no input at all, only valid ones). ``make fuzz`` raises it.
EXAMPLES = max(int(os.environ.get("FUZZ_EXAMPLES", "3")), 2)
INVALID_EXAMPLES = max(EXAMPLES // 3, 1)
VALID_EXAMPLES = EXAMPLES - INVALID_EXAMPLES
#: The whole run must generate at least this many cases.
MIN_CASES = 1000

IDENTITIES = ("anonymous", roles.RESIDENT, *roles.STAFF_ROLES)
PASSWORD = "pass-Word-123"

CHECKS = [
    schemathesis_checks.not_a_server_error,
    schemathesis_checks.status_code_conformance,
    schemathesis_checks.content_type_conformance,
    schemathesis_checks.response_schema_conformance,
]


class InProcessWSGI:
    """Django's WSGI handler as Django's test client runs it.

    The handler closes "old" database connections when a request starts and ends; inside the
    test's transaction that would close the test's own connection. The test client
    disconnects that signal receiver around each request, and so does this.
    """

    def __init__(self):
        self.handler = WSGIHandler()

    def __call__(self, environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = self.handler(environ, start_response)
            try:
                body = b"".join(response)
            finally:
                response.close()
            return [body]
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


# ---- the world --------------------------------------------------------------------------


def build_world(capture_on_commit) -> dict:
    """Accounts for every identity and real objects of every kind the API's paths name.

    Returns ``{"users": {identity: user}, "objects": {kind: [path parameters, ...]}}``.
    """
    department = UnitFactory(code="SF", name="市司法局")
    hall = UnitFactory(code="HALL", name="市民之家政务服务大厅", kind=Unit.Kind.SERVICE_HALL)
    town = UnitFactory(code="419001-Z01", name="克井镇", kind=Unit.Kind.TOWN)
    bureau = UnitFactory(code="BUREAU", name="市民政局监督科", kind=Unit.Kind.BUREAU)
    units = {
        roles.WINDOW_CLERK: hall,
        roles.VERIFICATION_OFFICER: department,
        roles.VERIFICATION_SUPERVISOR: department,
        roles.CREDIT_OFFICER: department,
        roles.CATALOG_ADMIN: department,
        roles.OVERSIGHT_OFFICER: bureau,
        roles.LIST_SUBMITTER: town,
    }
    users = {"anonymous": None, roles.RESIDENT: make_resident("fuzz-resident", name="李明华")}
    for role in roles.STAFF_ROLES:
        users[role] = make_staff(role, f"fuzz-{role}", unit=units[role])
    resident = users[roles.RESIDENT]
    other = make_resident("fuzz-other", name="王芳")
    officer = users[roles.VERIFICATION_OFFICER]
    second_officer = make_staff(roles.VERIFICATION_OFFICER, "fuzz-officer-2", unit=department)

    with capture_on_commit(execute=True):
        # Catalog and pledges: the resident's, another person's, one signed at the window.
        matter = MatterFactory(code="SF-001", department=department)
        MatterFactory(code="MZ-N05", must_not_issue=True)
        guide = oversight_demo.guide_create_default(matter)
        mine = [sign_pledge(resident, matter), sign_pledge(resident, matter)]
        theirs = sign_pledge(other, matter)
        clerk = users[roles.WINDOW_CLERK]
        at_window = pledge_services.pledge_sign(
            matter=matter,
            applicant={"name": "赵强", "id_number": valid_id_number(), "phone": "13900000001"},
            actor=clerk,
            statements_accepted=True,
            typed_name="赵强",
            signature_image=SIGNATURE_PNG,
            channel="window",
        )

        # Verification: a draw of every pledge, tasks led by the officer, evidence, a request.
        plan = make_plan(matter=matter, ratio="1", method="onsite")
        draw = verification_services.draw_execute(
            plan=plan, cutoff=at_window.signed_at + dt.timedelta(seconds=1)
        )
        verification_services.draw_follow_up(draw_id=draw.pk)
        tasks = list(CheckTask.objects.filter(draw=draw).order_by("pk"))
        CheckTask.objects.filter(pk__in=[t.pk for t in tasks]).update(
            lead=officer, second=second_officer
        )
        evidence = verification_services.data_check_run(task=tasks[0], actor=officer)
        assist = verification_services.assist_request_create(
            task=tasks[0], actor=officer, department=department, question="请协查收入情况。"
        )

        # Credit: a record in its hearing (with a statement and file), one confirmed with an
        # objection, another person's confirmed with a repair application.
        credit_officer = users[roles.CREDIT_OFFICER]
        hearing = draft(resident.person)
        statement = credit_services.statement_submit(
            record=hearing, actor=resident, text="情况说明", files=[pdf_upload()]
        )
        objected = confirmed(resident.person, credit_officer)
        objection = credit_services.objection_file(
            record=objected, actor=resident, reasons="记录有误"
        )
        repairable = confirmed(other.person, credit_officer, severity="minor")
        repair = credit_services.repair_apply(
            record=repairable, actor=other, credit_pledge="本人承诺信息真实。", correction="已改正"
        )

        # Oversight: a complaint, a catalog list handed in by the town, a report export.
        complaint = oversight_services.complaint_file(
            data={
                "agency": "某银行营业部",
                "certificate": "亲属关系证明",
                "description": "办理业务时要求到社区开具亲属关系证明。",
                "occurred_on": dt.date(2026, 11, 20),
                "place": "济源市某路",
                "contact": "13900000000",
            },
            actor=AnonymousUser(),
        )
        catalog_list = oversight_services.catalog_list_submit(
            actor=users[roles.LIST_SUBMITTER],
            upload=SimpleUploadedFile("list.xlsx", make_xlsx([row("T-900")])),
        )
        job = oversight_services.report_export_start(
            quarter="2026Q4", fmt="xlsx", actor=users[roles.OVERSIGHT_OFFICER]
        )

    attachment = statement.attachments.get()
    checkpoint = ledger.checkpoint()  # the day's signed head of the ledger
    objects = {
        "matter": [{"code": matter.code}, {"code": "MZ-N05"}],
        "guide": [{"code": guide.matter.code}],
        "pledge": [{"number": p.number} for p in (*mine, theirs, at_window)],
        "plan": [{"id": plan.pk}],
        "draw": [{"id": draw.pk}],
        "task": [{"id": t.pk} for t in tasks],
        "assist_request": [{"id": tasks[0].pk, "request_id": assist.pk}],
        "evidence": [{"id": evidence.pk}],
        "record": [{"id": r.pk} for r in (hearing, objected, repairable)],
        "objection": [{"id": objection.pk}],
        "repair": [{"id": repair.pk}],
        "credit_file": [{"id": attachment.pk}],
        "checkpoint": [{"day": checkpoint.day.isoformat()}],
        "complaint": [{"tracking_number": complaint.tracking_number}],
        "catalog_list": [{"id": catalog_list.pk}],
        "job": [{"id": job.pk}],
    }
    return {"users": users, "objects": objects}


#: Which kind of object a path names, by its template's start (longest first).
PATH_OBJECTS = [
    ("/api/v1/verification/tasks/{id}/assist-requests/{request_id}", "assist_request"),
    ("/api/v1/verification/tasks/{id}", "task"),
    ("/api/v1/verification/plans/{id}", "plan"),
    ("/api/v1/verification/draws/{id}", "draw"),
    ("/api/v1/verification/evidence/{id}", "evidence"),
    ("/api/v1/catalog-lists/{id}", "catalog_list"),
    ("/api/v1/complaints/{tracking_number}", "complaint"),
    ("/api/v1/credit/files/{id}", "credit_file"),
    ("/api/v1/credit/ledger/checkpoints/{day}", "checkpoint"),
    ("/api/v1/credit/objections/{id}", "objection"),
    ("/api/v1/credit/records/{id}", "record"),
    ("/api/v1/credit/repairs/{id}", "repair"),
    ("/api/v1/me/credit/{id}", "record"),
    ("/api/v1/guides/{code}", "guide"),
    ("/api/v1/matters/{code}", "matter"),
    ("/api/v1/pledges/{number}", "pledge"),
    ("/api/v1/reports/quarterly/jobs/{id}", "job"),
]


def real_path_parameters(path: str, objects: dict) -> list[dict]:
    if "{" not in path:
        return []
    for prefix, kind in PATH_OBJECTS:
        if path.startswith(prefix):
            return objects[kind]
    raise AssertionError(f"no real objects for {path}: add its kind to PATH_OBJECTS")


def token_headers(client, identity: str, user) -> dict:
    """Sign in through the API as a client would: staff add their authenticator's code."""
    if user is None:
        return {}
    body = {"username": user.username, "password": PASSWORD}
    if identity in roles.STAFF_ROLES:
        body["otp"] = totp_code(user)
    response = client.post("/api/v1/auth/token/", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {"Authorization": f"Token {response.json['token']}"}


# ---- the run ----------------------------------------------------------------------------


@pytest.fixture
def unthrottled(settings, monkeypatch):
    """Rate limits off: past them every case would answer 429 and test nothing else.

    The limits themselves are tested where they are defined (tests/test_security_settings.py,
    the login and complaint tests); 429 stays documented on every operation.
    """
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"user": None, "anon": None})
    monkeypatch.setattr(AnonymousRateThrottle, "THROTTLE_RATES", {"user": None, "anon": None})
    settings.CHENGNUO_OVERSIGHT_COMPLAINT_RATE = (10**9, 3600)
    settings.CHENGNUO_LOGIN_FAILURE_LIMIT = 10**9


def takes_input(operation) -> bool:
    definition = operation.definition.raw
    return bool(definition.get("parameters") or definition.get("requestBody"))


def valid_cases(operation, objects: dict):
    """Valid requests; where the path names objects, half of them name real ones."""
    generated = operation.as_strategy(GenerationMode.POSITIVE)
    real = real_path_parameters(operation.path, objects)
    if not real:
        return generated
    named = st.one_of([operation.as_strategy(path_parameters=p) for p in real])
    return st.one_of(named, generated)


@dataclass(frozen=True)
class Run:
    operation: object
    mode: str
    identity: str
    headers: dict
    examples: int


def fuzz(run: Run, strategy, app, cases: Counter) -> str:
    """Run the cases of one operation as one identity; the failure found, if any."""

    @given(case=strategy)
    @settings(
        max_examples=run.examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        cases[run.identity] += 1
        case.call_and_validate(app=app, headers=run.headers, checks=CHECKS)

    # Derandomised runs draw from a seed of the test function: one per operation, identity and
    # mode, so that each identity gets its own cases, the same ones every run (schemathesis'
    # own runner seeds by operation the same way).
    seed = f"{run.identity} {run.mode} {run.operation.label}".encode()
    call.hypothesis.inner_test._hypothesis_internal_add_digest = seed
    try:
        call()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported by the caller
        return str(exc)
    return ""


@pytest.fixture
def quiet_logs():
    """Errors only: thousands of 4xx answers (warnings) and tasks run (info) are expected."""
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


@pytest.mark.django_db
def test_every_operation_survives_fuzzing_as_every_identity(
    unthrottled, quiet_logs, django_capture_on_commit_callbacks
):
    world = build_world(django_capture_on_commit_callbacks)
    app = InProcessWSGI()
    # Each identity signs in with its own token: no generated credentials (cookies, tokens).
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app, config=config)
    client = schemathesis.python.wsgi.get_client(app)
    headers = {name: token_headers(client, name, user) for name, user in world["users"].items()}
    operations = [result.ok() for result in schema.get_all_operations()]

    cases = Counter()
    failures = []
    for operation in operations:
        modes = {"valid": (valid_cases(operation, world["objects"]), VALID_EXAMPLES)}
        if takes_input(operation):  # else there is nothing to make invalid
            negative = operation.as_strategy(GenerationMode.NEGATIVE)
            modes["invalid"] = (negative, INVALID_EXAMPLES)
        for identity in IDENTITIES:
            for mode, (strategy, examples) in modes.items():
                run = Run(operation, mode, identity, headers[identity], examples)
                failure = fuzz(run, strategy, app, cases)
                if failure:
                    failures.append(f"{identity}, {mode} input: {operation.label}\n{failure}")

    total = sum(cases.values())
    summary = ", ".join(f"{name} {count}" for name, count in cases.items())
    print(f"\nfuzz: {total} cases over {len(operations)} operations ({summary})")
    assert not failures, f"{len(failures)} failing operations:\n\n" + "\n\n".join(failures)
    assert total >= MIN_CASES, f"only {total} cases generated ({summary})"
