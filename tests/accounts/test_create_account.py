"""``manage.py create_account``: create or update an account; bad input is one clear line."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Person, User
from tests.factories import UnitFactory, make_resident, valid_id_number

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def create_account(*args) -> str:
    out = StringIO()
    call_command("create_account", *args, stdout=out)
    return out.getvalue()


def roles_of(user) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


@pytest.fixture
def unit():
    return UnitFactory(code="HALL", name="市民之家")


def test_creates_a_staff_account_in_a_unit(unit):
    output = create_account(
        "clerk1", "--role", "window_clerk", "--password", "s3cret-Pw", "--unit", "HALL"
    )
    user = User.objects.get(username="clerk1")
    assert output.strip() == "created clerk1 (window_clerk)"
    assert roles_of(user) == ["window_clerk"]
    assert user.unit == unit
    assert user.check_password("s3cret-Pw")
    assert not user.is_staff


def test_the_unit_may_be_named_instead_of_coded(unit):
    create_account("clerk1", "--role", "window_clerk", "--password", "pw", "--unit", "市民之家")
    assert User.objects.get(username="clerk1").unit == unit


def test_creates_a_resident_with_their_person():
    number = valid_id_number()
    create_account(
        "zhang", "--role", "resident", "--password", "pw", "--real-name", "张三",
        "--id-number", number.lower(), "--phone", "13800001111",
    )  # fmt: skip
    user = User.objects.get(username="zhang")
    assert roles_of(user) == ["resident"]
    assert user.real_name == "张三"
    assert user.person.id_number == number.upper()
    assert user.person.name == "张三"


def test_a_catalog_admin_may_enter_the_admin_site(unit):
    create_account("admin1", "--role", "catalog_admin", "--password", "pw", "--unit", "HALL")
    assert User.objects.get(username="admin1").is_staff


def test_updates_role_password_and_details_of_an_existing_account(unit):
    create_account("clerk1", "--role", "catalog_admin", "--password", "old-pw", "--unit", "HALL")
    other = UnitFactory(code="SF", name="市司法局")
    output = create_account(
        "clerk1", "--role", "verification_officer", "--password", "new-pw", "--unit", "SF",
        "--real-name", "新名字",
    )  # fmt: skip
    user = User.objects.get(username="clerk1")
    assert output.strip() == "updated clerk1 (verification_officer)"
    assert roles_of(user) == ["verification_officer"]
    assert user.check_password("new-pw")
    assert not user.check_password("old-pw")
    assert user.unit == other
    assert user.real_name == "新名字"
    assert not user.is_staff  # no longer a catalog administrator
    assert User.objects.filter(username="clerk1").count() == 1


def test_an_update_keeps_the_unit_and_person_when_not_given(unit):
    create_account("clerk1", "--role", "window_clerk", "--password", "pw", "--unit", "HALL")
    create_account("clerk1", "--role", "window_clerk", "--password", "pw2")
    assert User.objects.get(username="clerk1").unit == unit
    resident = make_resident("li")
    create_account("li", "--role", "resident", "--password", "pw3")
    resident.refresh_from_db()
    assert resident.person is not None
    assert resident.check_password("pw3")


def _refusal(*args) -> str:
    with pytest.raises(CommandError) as error:
        create_account(*args)
    message = str(error.value)
    assert message and "\n" not in message
    return message


def test_an_unknown_role_is_refused_with_the_known_ones():
    message = _refusal("x1", "--role", "superhero", "--password", "pw")
    assert "superhero" in message and "window_clerk" in message
    assert not User.objects.filter(username="x1").exists()


@pytest.mark.parametrize("number", ["11010519491231002Y", "110105194913310021", "123"])
def test_a_bad_id_number_is_refused(number):
    _refusal("x1", "--role", "resident", "--password", "pw", "--id-number", number)
    assert not User.objects.filter(username="x1").exists()
    assert not Person.objects.exists()


def test_an_unknown_unit_is_refused(unit):
    message = _refusal("x1", "--role", "window_clerk", "--password", "pw", "--unit", "NOPE")
    assert "NOPE" in message
    assert not User.objects.filter(username="x1").exists()


def test_a_staff_account_needs_a_unit():
    _refusal("x1", "--role", "window_clerk", "--password", "pw")
    assert not User.objects.filter(username="x1").exists()


def test_a_resident_account_needs_an_id_number():
    _refusal("x1", "--role", "resident", "--password", "pw")


def test_an_id_number_of_another_account_is_refused():
    taken = make_resident("first")
    message = _refusal(
        "second", "--role", "resident", "--password", "pw", "--id-number", taken.person.id_number
    )
    assert "first" in message
    assert not User.objects.filter(username="second").exists()


def test_an_empty_password_is_refused():
    _refusal("x1", "--role", "resident", "--password", "", "--id-number", valid_id_number())


def test_the_command_exits_non_zero_with_one_line(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "create_account", "x1", "--role", "nope", "--password", "p"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "nope" in lines[0]
