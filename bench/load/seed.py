"""The load test's data, written inside Django by ``bench/load/run.py``:

    manage.py shell -c "from bench.load.seed import main; main()"

after ``bench.sign_bench.setup_data`` has created the department ``BENCH``, the pledgeable
matter ``BENCH-1`` and the residents with their tokens. Adds what the other people of a
service-hall morning need, and writes their tokens and targets as JSON to ``LOAD_SEED_OUT``:

- a catalog of ``LOAD_MATTERS`` matters, each with a published template and service guide
  (what residents browse);
- window clerks at the service hall ``BENCH-HALL`` with API tokens, and ``LOAD_PRINTS``
  pledges signed at their window with a drawn signature, never printed yet (each print in
  the test renders a form, as the first print of a fresh pledge does);
- verification officers of ``BENCH`` with API tokens and ``LOAD_TASKS`` check tasks drawn by
  a written-method plan (each officer records one finding per task);
- the verify paths of the window pledges (what the public scans).

Staff tokens are created here directly: through the API a staff account gets one only with
its authenticator code, which a load test does not have. Run with
``CELERY_TASK_ALWAYS_EAGER=true`` so the notices of the set-up do not wait in the broker.
"""

import datetime as dt
import json
import os
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import Unit, User
from accounts.services import account_upsert
from oversight.demo import guide_create_default
from pledges import selectors as pledge_selectors
from pledges.models import Matter, Pledge, PledgeStatus, PledgeTemplate
from pledges.services import pledge_sign
from verification import services as verification_services
from verification.models import CheckTask, SpotCheckPlan

PASSWORD = "load-Pass-123"


def _matter(code: str, name: str, department: Unit, template: PledgeTemplate, **extra) -> Matter:
    matter = Matter.objects.create(
        code=code,
        name=name,
        department=department,
        certificate="经济困难证明",
        legal_basis="《基准条例》第一条",
        disposition="pledge",
        valid_from=dt.date(2020, 1, 1),
        **extra,
    )
    PledgeTemplate.objects.create(
        matter=matter,
        version=1,
        notice=template.notice,
        statements=template.statements,
        status="published",
        published_at=timezone.now(),
    )
    return matter


def _staff(username: str, role: str, unit: Unit, name: str) -> tuple[User, str]:
    user, _ = account_upsert(
        username=username, role=role, password=PASSWORD, real_name=name, unit_code=unit.code
    )
    return user, Token.objects.create(user=user).key


def _catalog(department: Unit, template: PledgeTemplate, count: int) -> list[str]:
    codes = []
    for i in range(count):
        matter = _matter(f"LOAD-{i:03d}", f"基准事项{i}申请", department, template)
        guide_create_default(matter)
        codes.append(matter.code)
    return codes


def _window_pledges(hall: Unit, matter: Matter, count: int, signature: str):
    clerks = [_staff(f"load-clerk{i}", "window_clerk", hall, f"窗口{i}") for i in range(4)]
    residents = list(User.objects.filter(username__startswith="bench").select_related("person"))
    numbers, verify_paths = [], []
    for i in range(count):
        clerk = clerks[i % len(clerks)][0]
        person = residents[i % len(residents)].person
        pledge = pledge_sign(
            matter=matter,
            applicant={"name": person.name, "id_number": person.id_number},
            actor=clerk,
            statements_accepted=True,
            typed_name=person.name,
            signature_image=signature,
            channel="window",
        )
        numbers.append(pledge.number)
        verify_paths.append(pledge_selectors.verify_path(pledge))
    return [token for _, token in clerks], numbers, verify_paths


def _check_tasks(department: Unit, template: PledgeTemplate, count: int):
    officers = dict(
        _staff(f"load-officer{i}", "verification_officer", department, f"核查员{i}")
        for i in range(6)
    )
    matter = _matter(
        "LOAD-CHECK", "基准核查事项", department, template, verification_methods=["written"]
    )
    current = matter.current_template()
    persons = [u.person for u in User.objects.filter(username__startswith="bench")]
    signed_at = timezone.now() - dt.timedelta(days=1)
    Pledge.objects.bulk_create(
        Pledge(
            number=f"CN-2025-{i + 1:06d}",
            matter=matter,
            template=current,
            person=persons[i % len(persons)],
            applicant_name=persons[i % len(persons)].name,
            channel="online",
            status=PledgeStatus.SIGNED,
            content={"title": matter.name},
            content_sha256="0" * 64,
            statements_accepted=True,
            signed_at=signed_at,
        )
        for i in range(count)
    )
    plan = verification_services.plan_save(
        plan=SpotCheckPlan(
            name="load test", matter=matter, ratio=Decimal("1"), minimum=1, method="written"
        )
    )
    draw = verification_services.draw_execute(plan=plan, cutoff=timezone.now())
    verification_services.draw_follow_up(draw_id=draw.pk)
    token_of = {user.pk: token for user, token in officers.items()}
    return [
        [token_of[lead], task]
        for task, lead in CheckTask.objects.filter(draw=draw).values_list("pk", "lead_id")
    ]


def main() -> None:
    from bench.sign_bench import signature_png

    out = Path(os.environ["LOAD_SEED_OUT"])
    department = Unit.objects.get(code="BENCH")
    sign_matter = Matter.objects.get(code="BENCH-1")
    template = sign_matter.current_template()
    with transaction.atomic():
        hall = Unit.objects.create(code="BENCH-HALL", name="基准政务服务大厅", kind="service_hall")
        guide_create_default(sign_matter)
        catalog = ["BENCH-1", *_catalog(department, template, int(os.environ["LOAD_MATTERS"]))]
    clerk_tokens, print_numbers, verify_paths = _window_pledges(
        hall, sign_matter, int(os.environ["LOAD_PRINTS"]), signature_png()
    )
    tasks = _check_tasks(department, template, int(os.environ["LOAD_TASKS"]))
    out.write_text(
        json.dumps(
            {
                "catalog": catalog,
                "clerk_tokens": clerk_tokens,
                "print_numbers": print_numbers,
                "verify_paths": verify_paths,
                "tasks": tasks,
            }
        )
    )
    print(
        f"LOAD-SEED {len(catalog)} matters with guides, {len(clerk_tokens)} clerks, "
        f"{len(print_numbers)} window pledges to print, {len(tasks)} check tasks"
    )
