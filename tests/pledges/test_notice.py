"""The default notice (告知) and statements (承诺) cover every element of DOMAIN.md §1."""

import pytest

from accounts.models import Unit
from pledges import notice
from pledges.demo import matter_rows
from pledges.models import Disposition, Matter

NOTICE_KEYS = [
    "matter",
    "legal_basis",
    "conditions",
    "how_to_pledge",
    "liability",
    "verification",
    "publication",
]
STATEMENT_KEYS = ["informed", "conditions_met", "truthful", "accepts_consequences", "free_will"]


def make_matter(**overrides) -> Matter:
    """An unsaved matter: the notice is a pure function of its fields."""
    values = {
        "code": "SF-999",
        "name": "申请法律援助",
        "department": Unit(code="SF", name="市司法局", kind=Unit.Kind.DEPARTMENT),
        "certificate": "经济困难证明(开具:乡镇人民政府、街道办事处)",
        "legal_basis": "《法律援助条例》第十三条",
        "disposition": Disposition.PLEDGE,
        "verification_methods": ["assisted"],
        "verification_note": "与民政部门低保数据比对",
        "verification_days": 20,
    }
    values.update(overrides)
    return Matter(**values)


def sections(matter) -> dict[str, dict]:
    return {section["key"]: section for section in notice.default_notice(matter)}


def test_notice_has_every_required_element_in_reading_order():
    result = notice.default_notice(make_matter())
    assert [section["key"] for section in result] == NOTICE_KEYS
    for section in result:
        assert set(section) == {"key", "title", "body"}
        assert section["title"].strip() and section["body"].strip()


def test_notice_names_the_matter_certificate_and_authority():
    body = sections(make_matter())["matter"]["body"]
    assert "申请法律援助" in body
    assert "经济困难证明(开具:乡镇人民政府、街道办事处)" in body
    assert "市司法局" in body


def test_notice_quotes_the_legal_basis_of_the_catalog():
    assert sections(make_matter())["legal_basis"]["body"] == "《法律援助条例》第十三条。"


@pytest.mark.parametrize("empty", ["", "   "])
def test_notice_says_honestly_when_the_catalog_has_no_legal_basis(empty):
    result = sections(make_matter(legal_basis=empty))
    assert result["legal_basis"]["body"] == notice.NO_LEGAL_BASIS
    assert "未载明设定依据" in result["legal_basis"]["body"]
    # Nothing that looks like a cited law or regulation appears anywhere in the notice.
    assert not any("《" in section["body"] for section in result.values())


def test_notice_states_the_conditions_the_certificate_would_prove():
    body = sections(make_matter())["conditions"]["body"]
    assert "经济困难证明" in body
    assert "条件" in body
    assert "(开具" not in body  # the issuer remark stays in the matter section


def test_notice_explains_how_to_pledge_the_free_choice_and_withdrawal():
    body = sections(make_matter())["how_to_pledge"]["body"]
    assert "签名" in body
    assert "提交证明" in body  # declining is always possible
    assert "撤回" in body
    assert "一式两份" in body  # the city default of copies
    assert "代替他人" in body


def test_notice_follows_the_configured_number_of_copies():
    body = sections(make_matter(form_copies=3))["how_to_pledge"]["body"]
    assert "一式三份" in body


def test_notice_names_civil_administrative_and_criminal_liability():
    body = sections(make_matter())["liability"]["body"]
    for word in ("民事", "行政", "刑事", "信用"):
        assert word in body


def test_notice_states_the_power_to_verify_method_time_limit_and_duty_to_cooperate():
    body = sections(make_matter(verification_days=15))["verification"]["body"]
    assert "有权" in body and "核查" in body
    assert "部门协查" in body
    assert "与民政部门低保数据比对" in body
    assert "15个工作日" in body
    assert "配合" in body


def test_notice_names_every_verification_method_chosen():
    body = sections(
        make_matter(verification_methods=["data_check", "onsite"], verification_note="")
    )["verification"]["body"]
    assert notice.METHOD_LABELS["data_check"] in body
    assert notice.METHOD_LABELS["onsite"] in body
    assert "核查说明" not in body


def test_notice_says_when_the_pledge_is_not_made_public():
    body = sections(make_matter(publish_pledges=False))["publication"]["body"]
    assert "不向社会公开" in body


def test_notice_gives_scope_and_period_when_the_pledge_is_made_public():
    matter = make_matter(
        publish_pledges=True, publication_scope="济源示范区政务服务网", publication_period_days=180
    )
    body = sections(matter)["publication"]["body"]
    assert "将予以公开" in body
    assert "济源示范区政务服务网" in body
    assert "180日" in body


def test_notice_does_not_invent_a_publication_scope_or_period():
    body = sections(make_matter(publish_pledges=True))["publication"]["body"]
    assert "未载明公开范围" in body
    assert "未载明公开期限" in body


def test_statements_are_the_five_pledges_in_order():
    result = notice.default_statements(make_matter())
    assert [statement["key"] for statement in result] == STATEMENT_KEYS
    for statement in result:
        assert set(statement) == {"key", "text"}
        assert statement["text"].strip()


def test_statements_say_what_each_pledge_means():
    texts = {s["key"]: s["text"] for s in notice.default_statements(make_matter())}
    assert "知晓" in texts["informed"]
    assert "申请法律援助" in texts["conditions_met"]
    assert "经济困难证明" in texts["conditions_met"]
    assert "真实" in texts["truthful"]
    assert "核查" in texts["accepts_consequences"]
    assert "法律责任" in texts["accepts_consequences"]
    assert "信用" in texts["accepts_consequences"]
    assert "自愿" in texts["free_will"]


@pytest.mark.parametrize(
    ("certificate", "short"),
    [
        ("经济困难证明(开具:乡镇人民政府、街道办事处)", "经济困难证明"),
        ("婚姻状况证明（由本人签字声明代替）", "婚姻状况证明"),
        ("企业登记住所(场地)证明", "企业登记住所(场地)证明"),
        (
            "在本市辖区(县、市)内无合法稳定住所的证明(以承诺代替)",
            "在本市辖区(县、市)内无合法稳定住所的证明",
        ),
        ("无犯罪记录证明", "无犯罪记录证明"),
        ("(未列明)", "(未列明)"),
    ],
)
def test_certificate_short_name_drops_only_a_trailing_remark(certificate, short):
    assert notice.certificate_short_name(certificate) == short


@pytest.mark.parametrize("row", matter_rows(), ids=lambda row: row["code"])
def test_every_catalog_row_gets_a_complete_and_honest_notice(row):
    matter = make_matter(
        code=row["code"],
        name=row["matter"],
        certificate=row["certificate"],
        legal_basis=row["legal_basis"],
        verification_note=row["verification_method"],
    )
    result = sections(matter)
    assert list(result) == NOTICE_KEYS
    if row["legal_basis"].strip():
        assert row["legal_basis"].strip() in result["legal_basis"]["body"]
    else:
        assert result["legal_basis"]["body"] == notice.NO_LEGAL_BASIS
    assert row["matter"] in result["matter"]["body"]
    assert [s["key"] for s in notice.default_statements(matter)] == STATEMENT_KEYS
