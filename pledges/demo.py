"""Demo catalog: the published pledge matters of ``data/pledge_matters.csv``, the 20 items
residents' committees must not issue, a few demo matters that are not pledgeable, and the
catalog administrator's permissions.

Called by ``manage.py load_demo`` after the accounts demo data (the departments must exist).
Matters are created when missing and never overwritten, so a catalog administrator's edits
survive the next ``make run``; a matter without any template gets a published version 1
built from ``pledges.notice``.
"""

import csv
from pathlib import Path

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts import roles
from accounts.models import Unit

from . import notice
from .models import Disposition, Matter, RiskLevel, VerificationMethod
from .services import template_new_version, template_publish

DATA_DIR = Path(__file__).resolve().parent / "data"
MATTERS_CSV = DATA_DIR / "pledge_matters.csv"

DEMO_SOURCE = "演示数据（非真实目录）"
MUST_NOT_ISSUE_BASIS = "民发〔2020〕20号"
MUST_NOT_ISSUE_DEPARTMENT = "MZ"

# Keywords of the CSV's verification note, and the method each points to. A registry the
# authority can query itself is a data check; another body's confirmation is an assisted
# check; a home visit or police inquiry is on site; a review of papers is a written check.
NOTE_RULES = (
    (
        (
            "在线核验",
            "系统",
            "比对",
            "数据共享",
            "查证",
            "全员人口库",
            "内部核查",
            "经办机构核查",
            "经济状况核对",
        ),
        VerificationMethod.DATA_CHECK,
    ),
    (("鉴定", "委员会确认"), VerificationMethod.ASSISTED),
    (("入户调查", "实地", "民警调查"), VerificationMethod.ONSITE),
    (("人工核查", "审查", "询问", "日常核查"), VerificationMethod.WRITTEN),
)
# Where the source says nothing about verification: the office that would have issued the
# certificate decides. Another department's records mean an assisted check.
CERTIFICATE_RULES = (
    (
        (
            "公安机关",
            "无犯罪记录",
            "经济困难",
            "低保",
            "开除公职",
            "关系证明",
            "关系承诺",
            "学历证明",
            "居住证",
            "住房情况",
            "无合法稳定住所",
        ),
        VerificationMethod.ASSISTED,
    ),
    (("监护关系", "成绩合格证"), VerificationMethod.DATA_CHECK),
    (("住所",), VerificationMethod.ONSITE),
)
DEFAULT_METHOD = VerificationMethod.WRITTEN

# The first batch of items residents' committees must not issue (DOMAIN.md §4), in order,
# each with where the resident goes instead.
MUST_NOT_ISSUE = (
    ("亲属关系证明", "公安机关户籍信息（户口簿、户籍证明），或当事人书面承诺"),
    ("居民身份信息证明", "居民身份证、户口簿；需要证明的，由公安机关户籍管理部门出具"),
    (
        "户口登记项目内容变更申请证明",
        "公安机关户籍管理部门依据户籍档案等核实，部分项目可适用告知承诺",
    ),
    ("居民养犬证明", "养犬登记管理部门（公安机关或城市管理部门）办理养犬登记"),
    ("无犯罪记录证明", "公安机关（户籍地或经常居住地派出所）"),
    (
        "社区戒毒社区康复人员情况证明（表现证明）",
        "乡镇人民政府、街道办事处社区戒毒社区康复工作机构",
    ),
    ("人员失踪证明", "报警后由公安机关出具报案材料；宣告失踪由人民法院依法判决"),
    ("婚姻状况证明", "民政部门婚姻登记信息，或当事人书面声明"),
    ("出生证明", "医疗机构出具的《出生医学证明》"),
    ("健在证明", "当事人本人到场或经人脸识别等方式认证；在境外的，由驻外使领馆或公证机构办理"),
    ("死亡证明", "医疗机构出具的《居民死亡医学证明（推断）书》，或公安机关（非正常死亡）"),
    ("疾病状况证明", "医疗机构出具的诊断证明"),
    ("残疾状况证明", "残疾人联合会核发的《残疾人证》，或依法进行的伤残鉴定"),
    ("婚育状况证明", "卫生健康部门的生育登记信息，或当事人书面承诺"),
    ("居民就业状况证明", "人力资源社会保障部门的就业登记和社会保险参保信息，或当事人书面承诺"),
    ("居民个人档案证明", "档案保管单位（人才服务机构、所在单位或档案馆）"),
    ("居民财产证明", "不动产登记机构、金融机构、车辆管理所等财产登记或托管机构"),
    ("遗产继承权证明", "公证机构办理继承权公证，或人民法院依法裁判"),
    ("市场主体住所证明", "市场主体提交住所（经营场所）使用证明或书面承诺，由市场监管部门依法登记"),
    ("证件遗失证明", "向发证机关报失并书面声明；需要报警的，由公安机关出具报警回执"),
)

# Matters that are not pledgeable, so the catalog shows every disposition. Made up for the
# demo and labelled so in ``source``.
DEMO_MATTERS = (
    {
        "code": "MZ-D01",
        "name": "对监护人的确定有争议时指定监护人",
        "department": "MZ",
        "certificate": "指定监护人的书面意见（被监护人住所地居民委员会、村民委员会出具）",
        "legal_basis": "《中华人民共和国民法典》第三十一条",
        "disposition": Disposition.MUST_ISSUE,
        "where_instead": "被监护人住所地居民委员会、村民委员会，或民政部门",
        "risk_level": RiskLevel.HIGH,
    },
    {
        "code": "MZ-D02",
        "name": "实际居住情况证明（经核实可以出具）",
        "department": "MZ",
        "certificate": "居住情况证明",
        "legal_basis": "",
        "disposition": Disposition.MAY_ISSUE,
        "where_instead": "居民委员会、村民委员会能够核实的，可以出具；不能核实的，不予出具",
        "risk_level": RiskLevel.MEDIUM,
    },
    {
        "code": "SJ-D01",
        "name": "食品生产经营从业人员上岗",
        "department": "SJ",
        "certificate": "从业人员健康证明",
        "legal_basis": "《中华人民共和国食品安全法》第四十五条",
        "disposition": Disposition.PLEDGE,
        "excluded_from_pledge": True,
        "exclusion_reason": "直接涉及公共安全和人身健康，不适用告知承诺制（国办发〔2020〕42号）",
        "where_instead": "医疗卫生机构进行健康检查后出具健康证明",
        "risk_level": RiskLevel.VERY_HIGH,
    },
)


def matter_rows() -> list[dict]:
    with MATTERS_CSV.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _matching(text: str, rules) -> list[str]:
    return [method for keywords, method in rules if any(word in text for word in keywords)]


def verification_methods_for(note: str, certificate: str) -> list[str]:
    """Methods read from the CSV's verification note (or, when it is empty, the certificate).

    Always at least one, in the order of ``VerificationMethod``.
    """
    found = set(_matching(note, NOTE_RULES) if note.strip() else [])
    if not found:
        found = set(_matching(certificate, CERTIFICATE_RULES)) or {DEFAULT_METHOD}
    return [method.value for method in VerificationMethod if method in found]


def _department(code: str) -> Unit:
    return Unit.objects.get(code=code, kind=Unit.Kind.DEPARTMENT)


def _ensure_matter(code: str, values: dict) -> bool:
    _, created = Matter.objects.get_or_create(code=code, defaults=values)
    return created


def load_published_matters() -> int:
    created = 0
    for row in matter_rows():
        prefix = row["code"].split("-", 1)[0]
        created += _ensure_matter(
            row["code"],
            {
                "name": row["matter"].strip(),
                "department": _department(prefix),
                "certificate": row["certificate"].strip(),
                "legal_basis": row["legal_basis"].strip(),
                "disposition": Disposition.PLEDGE,
                "risk_level": RiskLevel(row["risk_level"].strip()),
                "verification_note": row["verification_method"].strip(),
                "verification_methods": verification_methods_for(
                    row["verification_method"], row["certificate"]
                ),
                "verification_days": 20,
                "source": row["source"].strip(),
            },
        )
    return created


def load_must_not_issue() -> int:
    department = _department(MUST_NOT_ISSUE_DEPARTMENT)
    created = 0
    for index, (item, where_instead) in enumerate(MUST_NOT_ISSUE, start=1):
        created += _ensure_matter(
            f"MZ-N{index:02d}",
            {
                "name": item,
                "department": department,
                "certificate": item,
                "legal_basis": MUST_NOT_ISSUE_BASIS,
                "disposition": Disposition.MUST_NOT_ISSUE,
                "excluded_from_pledge": False,
                "where_instead": where_instead,
                "source": (
                    f"{MUST_NOT_ISSUE_BASIS}（2020-02-29）：村（居）民委员会不应出具的证明事项，"
                    f"第一批共20项之第{index}项"
                ),
            },
        )
    return created


def load_demo_matters() -> int:
    created = 0
    for spec in DEMO_MATTERS:
        values = {key: value for key, value in spec.items() if key not in ("code", "department")}
        values["department"] = _department(spec["department"])
        values["source"] = DEMO_SOURCE
        created += _ensure_matter(spec["code"], values)
    return created


def load_templates() -> int:
    """A published version 1 for every pledgeable matter that has no template at all."""
    created = 0
    pledgeable = Matter.objects.filter(
        disposition=Disposition.PLEDGE, excluded_from_pledge=False, templates__isnull=True
    ).select_related("department")
    for matter in pledgeable:
        draft = template_new_version(
            matter=matter,
            notice=notice.default_notice(matter),
            statements=notice.default_statements(matter),
        )
        template_publish(template=draft)
        created += 1
    return created


# What the catalog administrator keeps in the Django admin: the catalog, the holiday table of
# the working-day calendar, and the periodic task schedule.
CATALOG_ADMIN_MODELS = (
    ("pledges", "matter"),
    ("pledges", "pledgetemplate"),
    ("core", "holiday"),
)
CATALOG_ADMIN_APPS = ("django_celery_beat",)


def grant_catalog_admin_permissions() -> int:
    """Give the ``catalog_admin`` group the model permissions it needs; returns how many new."""
    group = Group.objects.get(name=roles.CATALOG_ADMIN)
    wanted = Permission.objects.none()
    for app_label, model in CATALOG_ADMIN_MODELS:
        wanted |= Permission.objects.filter(
            content_type__app_label=app_label, content_type__model=model
        )
    wanted |= Permission.objects.filter(content_type__app_label__in=CATALOG_ADMIN_APPS)
    # The history of matters is read-only.
    wanted |= Permission.objects.filter(
        content_type__app_label="pledges", codename="view_historicalmatter"
    )
    missing = wanted.exclude(pk__in=group.permissions.values("pk"))
    missing = list(missing)
    group.permissions.add(*missing)
    return len(missing)


def load(stdout=None) -> dict[str, int]:
    with transaction.atomic():
        return {
            "pledge matters": load_published_matters(),
            "must-not-issue items": load_must_not_issue(),
            "other demo matters": load_demo_matters(),
            "published templates": load_templates(),
            "catalog admin permissions": grant_catalog_admin_permissions(),
        }
