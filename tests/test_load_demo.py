"""``manage.py load_demo``: complete, idempotent, never under production settings, no clear IDs."""

import csv
import datetime as dt
import io
import re

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts import id_numbers, roles
from accounts.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, POPULATION_CSV, population_rows
from accounts.models import Person, RegistryEntry, Unit, User
from accounts.realname import real_name_matches
from core import calendar
from core.models import AuditEvent, Holiday
from pledges.demo import MATTERS_CSV, verification_methods_for
from pledges.models import Disposition, Matter, PledgeTemplate, VerificationMethod
from pledges.notice import default_notice, default_statements

MUST_NOT_ISSUE = [
    "亲属关系证明",
    "居民身份信息证明",
    "户口登记项目内容变更申请证明",
    "居民养犬证明",
    "无犯罪记录证明",
    "社区戒毒社区康复人员情况证明（表现证明）",
    "人员失踪证明",
    "婚姻状况证明",
    "出生证明",
    "健在证明",
    "死亡证明",
    "疾病状况证明",
    "残疾状况证明",
    "婚育状况证明",
    "居民就业状况证明",
    "居民个人档案证明",
    "居民财产证明",
    "遗产继承权证明",
    "市场主体住所证明",
    "证件遗失证明",
]
JIYUAN_STREETS = ["沁园街道", "济水街道", "北海街道", "天坛街道", "玉泉街道"]
JIYUAN_TOWNS = [
    "克井镇",
    "五龙口镇",
    "轵城镇",
    "承留镇",
    "邵原镇",
    "坡头镇",
    "梨林镇",
    "大峪镇",
    "思礼镇",
    "王屋镇",
    "下冶镇",
]
DEPARTMENTS = ["SF", "PA", "HR", "MZ", "WJ", "JY", "YB", "SJ", "SW"]


def load_demo() -> str:
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def snapshot() -> dict:
    """Row counts of everything the command writes, and the state that must not drift."""
    return {
        "units": Unit.objects.count(),
        "matters": Matter.objects.count(),
        "matter history": Matter.history.count(),
        "templates": PledgeTemplate.objects.count(),
        "registry": RegistryEntry.objects.count(),
        "persons": Person.objects.count(),
        "users": User.objects.count(),
        "holidays": Holiday.objects.count(),
        "audit events": AuditEvent.objects.count(),
        "catalog admin permissions": Group.objects.get(
            name=roles.CATALOG_ADMIN
        ).permissions.count(),
        "passwords": dict(User.objects.values_list("username", "password")),
    }


@pytest.fixture
def demo(db):
    return load_demo()


def test_running_twice_creates_nothing_new(demo):
    before = snapshot()
    second = load_demo()
    assert snapshot() == before
    counts = re.findall(r"(\d+) [a-z]", second)
    assert counts and set(counts) == {"0"}


def test_second_run_keeps_what_a_catalog_admin_edited(demo):
    matter = Matter.objects.get(code="SF-001")
    matter.name = "申请法律援助（已由管理员修改）"
    matter.save()
    load_demo()
    assert Matter.objects.get(code="SF-001").name == "申请法律援助（已由管理员修改）"


def test_every_csv_row_is_a_pledge_matter_of_its_department(demo):
    with MATTERS_CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 15
    for row in rows:
        matter = Matter.objects.get(code=row["code"])
        assert matter.name == row["matter"]
        assert matter.certificate == row["certificate"]
        assert matter.legal_basis == row["legal_basis"]  # empty stays empty
        assert matter.verification_note == row["verification_method"]
        assert matter.risk_level == row["risk_level"]
        assert matter.source == row["source"]
        assert matter.disposition == Disposition.PLEDGE
        assert matter.department.code == row["code"].split("-")[0]
        assert matter.verification_days == 20
        assert matter.verification_methods
        assert set(matter.verification_methods) <= set(VerificationMethod.values)


def test_csv_copy_in_the_repository_matches_its_readme_count():
    with MATTERS_CSV.open(encoding="utf-8", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 37


def test_at_least_fifteen_matters_accept_pledges_with_a_published_template(demo):
    pledgeable = [m for m in Matter.objects.all() if m.accepts_pledges]
    assert len(pledgeable) >= 15
    for matter in pledgeable:
        template = matter.current_template()
        assert template is not None, matter.code
        assert template.version == 1
        assert template.status == PledgeTemplate.Status.PUBLISHED
        assert template.published_at is not None
        assert template.notice == default_notice(matter)
        assert template.statements == default_statements(matter)


def test_template_without_legal_basis_says_so(demo):
    template = Matter.objects.get(code="PA-002").current_template()
    basis = next(s for s in template.notice if s["key"] == "legal_basis")
    assert basis["body"] == "本事项目录未载明设定依据。"


def test_the_twenty_items_committees_must_not_issue_in_order(demo):
    items = Matter.objects.filter(disposition=Disposition.MUST_NOT_ISSUE).order_by("code")
    assert [m.code for m in items] == [f"MZ-N{n:02d}" for n in range(1, 21)]
    assert [m.name for m in items] == MUST_NOT_ISSUE
    for matter in items:
        assert matter.certificate == matter.name
        assert matter.department.code == "MZ"
        assert "民发〔2020〕20号" in matter.legal_basis
        assert "民发〔2020〕20号" in matter.source
        assert matter.where_instead
        assert not matter.excluded_from_pledge
        assert not matter.templates.exists()
    assert "出生医学证明" in items.get(name="出生证明").where_instead
    assert "公安机关" in items.get(name="无犯罪记录证明").where_instead


def test_catalog_shows_every_disposition_and_an_excluded_matter(demo):
    assert set(Matter.objects.values_list("disposition", flat=True)) == set(Disposition.values)
    must_issue = Matter.objects.get(disposition=Disposition.MUST_ISSUE)
    assert must_issue.legal_basis
    excluded = Matter.objects.get(excluded_from_pledge=True)
    assert excluded.disposition == Disposition.PLEDGE
    assert excluded.exclusion_reason
    assert not excluded.accepts_pledges
    assert not excluded.templates.exists()
    for matter in Matter.objects.filter(code__contains="-D"):
        assert matter.source == "演示数据（非真实目录）"


def test_units_are_the_towns_and_streets_of_jiyuan_and_the_departments(demo):
    streets = set(Unit.objects.filter(kind=Unit.Kind.STREET).values_list("name", flat=True))
    towns = set(Unit.objects.filter(kind=Unit.Kind.TOWN).values_list("name", flat=True))
    assert streets == set(JIYUAN_STREETS)
    assert towns == set(JIYUAN_TOWNS)
    for code in DEPARTMENTS:
        assert Unit.objects.get(code=code).kind == Unit.Kind.DEPARTMENT
    assert Unit.objects.get(code="HALL").kind == Unit.Kind.SERVICE_HALL


def test_demo_accounts_log_in_with_the_demo_password(demo):
    assert DEMO_PASSWORD == "chengnuo-demo-2026"  # the README quotes it
    for account in DEMO_ACCOUNTS:
        user = authenticate(username=account.username, password=DEMO_PASSWORD)
        assert user is not None, account.username
        assert list(user.groups.values_list("name", flat=True)) == [account.role]
        if account.role != roles.RESIDENT:
            assert user.unit is not None
        assert authenticate(username=account.username, password="wrong-password") is None
    usernames = {account.username for account in DEMO_ACCOUNTS}
    assert {
        "demo-resident",
        "demo-window",
        "demo-officer",
        "demo-supervisor",
        "demo-credit",
        "demo-admin",
        "demo-oversight",
        "demo-lists",
    } <= usernames


def test_demo_resident_is_a_registered_person_of_a_jiyuan_street(demo):
    user = User.objects.get(username="demo-resident")
    person = user.person
    first = population_rows()[0]
    assert person.name == user.real_name == first["name"]
    assert person.id_hash == id_numbers.keyed_hash(first["id_number"])
    assert person.town.kind == Unit.Kind.STREET
    assert person.phone == user.phone == "13800000001"
    assert real_name_matches(name=first["name"], id_number=first["id_number"])
    assert not user.is_staff


def test_catalog_admin_can_keep_the_catalog_holidays_and_schedules(demo):
    admin = User.objects.get(username="demo-admin")
    assert admin.is_staff
    for perm in (
        "pledges.change_matter",
        "pledges.add_matter",
        "pledges.change_pledgetemplate",
        "pledges.view_pledgetemplate",
        "core.add_holiday",
        "core.change_holiday",
        "django_celery_beat.change_periodictask",
        "django_celery_beat.add_crontabschedule",
    ):
        assert admin.has_perm(perm), perm
    assert not admin.has_perm("pledges.delete_pledge")
    assert not User.objects.get(username="demo-window").is_staff


def test_population_registry_is_valid_varied_and_has_a_rare_character():
    rows = population_rows()
    assert 35 <= len(rows) <= 60
    numbers = [id_numbers.validate(row["id_number"]) for row in rows]
    assert all(row["id_number"] == number for row, number in zip(rows, numbers, strict=True))
    assert len(set(numbers)) == len(numbers)
    assert all(number.startswith("419001") for number in numbers)
    sexes = {int(number[16]) % 2 for number in numbers}
    assert sexes == {0, 1}
    assert len({number[6:10] for number in numbers}) >= 20
    assert any(number.endswith("X") for number in numbers)
    assert any(any(0x20000 <= ord(ch) <= 0x2A6DF for ch in row["name"]) for row in rows)


def test_registry_holds_hash_and_name_for_every_demo_person(demo):
    rows = population_rows()
    assert RegistryEntry.objects.count() == len(rows)
    for row in rows:
        entry = RegistryEntry.objects.get(id_hash=id_numbers.keyed_hash(row["id_number"]))
        assert entry.name == row["name"]


def test_no_clear_id_number_is_stored_anywhere(demo):
    numbers = [row["id_number"] for row in population_rows()]
    assert POPULATION_CSV.exists()
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for record in cursor.fetchall():
                text = " ".join(str(value) for value in record)
                found += [(table, number) for number in numbers if number in text]
    assert found == []
    # The raw rows of the two tables that hold identity: hash, mask and Fernet token only.
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_hash, name FROM accounts_registryentry")
        assert all(len(id_hash) == 64 for id_hash, _ in cursor.fetchall())
        cursor.execute("SELECT id_number, id_masked FROM accounts_person")
        stored, masked = cursor.fetchone()
    assert stored != numbers[0] and stored.startswith("gAAAA")
    assert masked == id_numbers.mask(numbers[0])


def test_holidays_include_new_year_2027(demo):
    holiday = Holiday.objects.get(date=dt.date(2027, 1, 1))
    assert not holiday.is_working_day
    assert not calendar.is_working_day(dt.date(2027, 1, 1))  # a Friday
    assert Holiday.objects.filter(date__year=2026).exists()


def test_refused_under_production_settings(db, settings):
    settings.CHENGNUO_DEMO_DATA_ALLOWED = False
    with pytest.raises(CommandError, match="not allowed"):
        load_demo()
    assert not Matter.objects.exists()
    assert not User.objects.filter(username__startswith="demo-").exists()


@pytest.mark.parametrize(
    ("note", "certificate", "expected"),
    [
        ("通过全员人口库、生育信息登记系统查证", "", ["data_check"]),
        ("入户调查;家庭经济状况核对", "", ["data_check", "onsite"]),
        ("村(居)民委员会确认盖章;民警调查并签字确认", "", ["assisted", "onsite"]),
        ("", "无犯罪记录证明(开具:公安机关)", ["assisted"]),
        ("", "思想品德鉴定", ["written"]),
    ],
)
def test_verification_methods_follow_the_note(note, certificate, expected):
    assert verification_methods_for(note, certificate) == expected
