"""Demo data for oversight: a published service guide for every demo matter.

Called by ``manage.py load_demo`` (``load``) after the catalog exists; ``load_demo_guides``
can be called on its own. Guides are created when missing and never overwritten, so a
catalog administrator's edits survive the next ``make run``. The text is demo data built from
each matter's catalog fields (marked as such in the FAQ), not a real office's guide.
"""

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts import roles
from pledges import selectors as pledge_selectors

from . import services
from .models import GuideMaterial, GuideQuestion, GuideType, ServiceGuide

HALL = "市民之家政务服务大厅"
HOURS = "工作日 9:00—12:00，13:00—17:00（法定节假日除外）"
HOTLINE = "12345"
DEMO_NOTE = "本指南为演示数据，依据目录信息生成，不是真实机关发布的办事指南。"


def _guide_values(matter) -> dict:
    department = matter.department.name
    base = {
        "office": department,
        "window": f"{HALL}{department}窗口",
        "place": HALL,
        "hours": HOURS,
        "enquiry_phone": HOTLINE,
        "complaint_phone": HOTLINE,
        "fee": "",
    }
    if matter.disposition == "must_not_issue":
        return base | {
            "guide_type": GuideType.PUBLIC_SERVICE,
            "who_may_apply": "需要该证明事项的居民。",
            "conditions": "村（居）民委员会不出具本证明。\n请按“办理途径”到相应机关或渠道办理。",
            "steps": (
                "不向村（居）民委员会申请本证明。\n"
                f"按以下途径办理：{matter.where_instead or '向要求提供证明的单位询问替代方式'}。\n"
                "仍被要求到村（居）民委员会开具的，可以投诉。"
            ),
            "statutory_days": None,
            "promised_days": 0,
            "result": "不出具证明",
            "delivery": "",
            "visits": 0,
        }
    pledge = matter.disposition == "pledge" and not matter.excluded_from_pledge
    steps = ["申请", "受理", "审查", "决定", "送达"]
    if pledge:
        steps.insert(1, "阅读告知内容并签署告知承诺书（可在网上签署，也可在窗口签署）")
    return base | {
        "guide_type": GuideType.CONFIRMATION,
        "who_may_apply": "符合本事项办理条件的公民。",
        "conditions": "申请人符合本事项规定的条件。\n提交的材料真实、完整。",
        "steps": "\n".join(steps),
        "statutory_days": 20,
        "promised_days": 5 if pledge else 10,
        "result": "办理决定",
        "delivery": "窗口领取或邮寄送达",
        "visits": 0 if pledge else 1,
    }


def _materials(matter) -> list[dict]:
    if matter.disposition == "must_not_issue":
        return []
    pledge = matter.disposition == "pledge" and not matter.excluded_from_pledge
    return [
        {
            "name": "申请表",
            "form": GuideMaterial.Form.ORIGINAL,
            "copies": 1,
            "source": "申请人填写",
        },
        {
            "name": "居民身份证",
            "form": GuideMaterial.Form.ORIGINAL,
            "copies": 1,
            "source": "公安机关",
            "note": "现场核验，不留存复印件",
        },
        {
            "name": matter.certificate[:200],
            "form": GuideMaterial.Form.ORIGINAL,
            "copies": 1,
            "source": "原出具单位",
            "pledge_replaceable": pledge,
            "note": "可以书面承诺代替" if pledge else "",
        },
    ]


def _questions(matter) -> list[dict]:
    questions = [{"question": "本指南是否为正式发布的办事指南？", "answer": DEMO_NOTE}]
    if matter.disposition == "pledge" and not matter.excluded_from_pledge:
        questions.append(
            {
                "question": "不愿意承诺怎么办？",
                "answer": "是否承诺由申请人自愿选择；不承诺的，提交证明材料后按一般程序办理。",
            }
        )
    if matter.disposition == "must_not_issue":
        questions.append(
            {
                "question": "单位仍要求我到社区开这个证明怎么办？",
                "answer": "可以在本网站“投诉”页面或拨打12345反映，民政部门将督促其上级单位纠正。",
            }
        )
    return questions


def guide_create_default(matter) -> ServiceGuide:
    guide = ServiceGuide.objects.create(matter=matter, **_guide_values(matter))
    for position, material in enumerate(_materials(matter), start=1):
        GuideMaterial.objects.create(guide=guide, position=position, **material)
    for position, question in enumerate(_questions(matter), start=1):
        GuideQuestion.objects.create(guide=guide, position=position, **question)
    return services.guide_publish(guide=guide)


def load_demo_guides() -> int:
    """A published guide for every matter of the catalog that has none; returns how many."""
    created = 0
    with transaction.atomic():
        for matter in pledge_selectors.matter_list().filter(guide__isnull=True):
            guide_create_default(matter)
            created += 1
    return created


GUIDE_MODELS = ("serviceguide", "guidematerial", "guidequestion", "historicalserviceguide")


def grant_catalog_admin_permissions() -> int:
    """Catalog administrators write the guides in the admin; returns how many new."""
    group = Group.objects.get(name=roles.CATALOG_ADMIN)
    wanted = Permission.objects.filter(
        content_type__app_label="oversight", content_type__model__in=GUIDE_MODELS
    ).exclude(
        codename__in=[
            "add_historicalserviceguide",
            "change_historicalserviceguide",
            "delete_historicalserviceguide",
        ]
    )
    missing = list(wanted.exclude(pk__in=group.permissions.values("pk")))
    group.permissions.add(*missing)
    return len(missing)


def load(stdout=None) -> dict[str, int]:
    with transaction.atomic():
        return {
            "published service guides": load_demo_guides(),
            "catalog admin guide permissions": grant_catalog_admin_permissions(),
        }
