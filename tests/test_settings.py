"""Production settings: the deploy checklist passes, demo data is refused, no clear ID numbers
reach the database."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from accounts.services import person_get_or_create
from pledges.models import Channel
from pledges.services import certificate_choose, pledge_sign, pledge_withdraw
from tests.conftest import client_for
from tests.factories import SIGNATURE_PNG, MatterFactory, sign_pledge, valid_id_number

ROOT = Path(__file__).resolve().parents[1]


def production_env(tmp_path) -> dict:
    """Made-up secrets, as an operator would put them in the environment."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "CELERY_", "CACHE_", "CHENGNUO_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="x7!" + Fernet.generate_key().decode() * 2,
        FIELD_ENCRYPTION_KEYS=f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
        ID_HASH_KEY="id-hash-" + Fernet.generate_key().decode(),
        LEDGER_HMAC_KEY="ledger-" + Fernet.generate_key().decode(),
        EXPORT_SIGNING_KEY="export-" + Fernet.generate_key().decode(),
        DJANGO_ALLOWED_HOSTS="chengnuo.example.gov.cn",
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/15",
    )
    return env


def manage(tmp_path, *args, env=None):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env or production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_production_settings_pass_the_deploy_check_without_warnings(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "DEBUG")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr


def test_production_settings_keep_connections_and_secure_cookies(tmp_path):
    code = (
        "from django.conf import settings as s;"
        "db = s.DATABASES['default'];"
        "print(s.DEBUG, db['CONN_MAX_AGE'] != 0, db['CONN_HEALTH_CHECKS'],"
        " s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.CHENGNUO_DEMO_DATA_ALLOWED)"
    )
    result = manage(tmp_path, "shell", "--no-imports", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True", "True", "True", "False"]


def test_production_settings_refuse_to_start_without_a_secret(tmp_path):
    env = production_env(tmp_path)
    del env["FIELD_ENCRYPTION_KEYS"]
    result = manage(tmp_path, "check", env=env)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr


def test_demo_data_is_refused_under_production_settings(tmp_path):
    assert manage(tmp_path, "migrate", "--no-input").returncode == 0
    result = manage(tmp_path, "load_demo")
    assert result.returncode != 0
    assert "production" in result.stderr
    users = manage(
        tmp_path,
        "shell",
        "--no-imports",
        "-c",
        "from accounts.models import User; print(User.objects.count())",
    )
    assert users.stdout.strip() == "0", users.stderr


@pytest.mark.django_db
def test_a_dump_of_every_table_shows_no_clear_id_number(resident, other_resident, staff):
    """Register, sign online and at the window, withdraw, choose the certificate, use the API;
    then read every row of every table as raw text."""
    matter = MatterFactory()
    numbers = [resident.person.id_number, other_resident.person.id_number]
    sign_pledge(resident, matter)
    pledge_withdraw(pledge=sign_pledge(other_resident, matter), actor=other_resident)
    certificate_choose(matter=matter, actor=resident)

    walk_in = valid_id_number()
    numbers.append(walk_in)
    pledge_sign(
        matter=matter,
        applicant={"name": "王五", "id_number": walk_in, "phone": "13912345678"},
        actor=staff["window_clerk"],
        statements_accepted=True,
        typed_name="王五",
        signature_image=SIGNATURE_PNG,
        channel=Channel.WINDOW,
    )
    lower_x = "11010519491231002X"
    numbers.append(lower_x)
    person_get_or_create(id_number=lower_x.lower(), name="钱七")
    api = client_for(resident)
    api.post(
        "/api/v1/pledges/",
        {
            "matter": matter.code,
            "applicant": {"name": "张三", "id_number": resident.person.id_number},
            "statements_accepted": True,
            "signature": {"typed_name": "张三", "image": SIGNATURE_PNG},
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="dump-test",
    )
    api.get("/api/v1/pledges/")
    client_for(staff["window_clerk"]).get("/api/v1/pledges/", {"matter": matter.code})

    leaks = []
    tables = connection.introspection.table_names()
    assert "accounts_person" in tables and "pledges_pledge" in tables
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                text = " ".join(
                    value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    for value in row
                ).upper()
                leaks += [(table, number) for number in numbers if number in text]
    assert leaks == []
