"""The default notice (告知) and pledge statements (承诺) of a matter, per DOMAIN.md §1.

Pure functions over a ``Matter``: they read its fields and build the text a catalog
administrator starts from when a matter first gets a pledge template. The text is legal text
shown to residents and printed on the form, so it is written in Chinese here as catalog data,
not as translatable interface strings. Nothing is invented: where the catalog leaves a field
empty (a legal basis, a publication scope), the notice says so instead of filling it in.
"""

import re

NO_LEGAL_BASIS = "本事项目录未载明设定依据。"

# How each verification method reads in the notice (codes of ``VerificationMethod``).
METHOD_LABELS = {
    "data_check": "网络核验（比对共享的政务数据）",
    "assisted": "部门协查",
    "written": "书面核查",
    "onsite": "实地调查",
    "public_notice": "公示核查",
}

# A trailing bracketed remark on a certificate name: who issues it, what replaces it.
_TRAILING_REMARK = re.compile(r"\s*[（(][^（）()]*[）)]\s*$")


def certificate_short_name(certificate: str) -> str:
    """The certificate's name without a trailing remark in brackets, for use inside a sentence.

    ``经济困难证明(开具:乡镇人民政府、街道办事处)`` reads ``经济困难证明``; brackets inside the
    name (``企业登记住所(场地)证明``) stay.
    """
    short = _TRAILING_REMARK.sub("", certificate or "").strip()
    return short or (certificate or "").strip()


_CHINESE_NUMERALS = "零一两三四五六七八九十"


def _count(number: int) -> str:
    """``2`` reads ``两``, as a form says 一式两份; larger numbers stay in digits."""
    return _CHINESE_NUMERALS[number] if 0 <= number <= 10 else str(number)


def _copies_text(copies: int) -> str:
    if copies == 2:
        return "书面承诺书一式两份，申请人与行政机关各执一份。"
    if copies == 1:
        return "书面承诺书一式一份，由行政机关留存，申请人可以索取复制件。"
    return f"书面承诺书一式{_count(copies)}份，申请人执一份，其余由行政机关留存。"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in "。；！？" else text + "。"


def _methods_text(matter) -> str:
    labels = [METHOD_LABELS.get(code, code) for code in matter.verification_methods or []]
    return "、".join(labels) if labels else "由行政机关依法确定"


def _department_name(matter) -> str:
    department = getattr(matter, "department", None)
    return department.name if department is not None else "行政机关"


def default_notice(matter) -> list[dict]:
    """The notice sections, in reading order, as ``{"key", "title", "body"}`` dicts."""
    department = _department_name(matter)
    certificate = (matter.certificate or "").strip()
    short = certificate_short_name(certificate)
    legal_basis = (matter.legal_basis or "").strip()

    verification = (
        f"{department}有权对申请人承诺的内容进行核查。本事项的核查方式：{_methods_text(matter)}。"
    )
    if (matter.verification_note or "").strip():
        verification += f"核查说明：{_sentence(matter.verification_note)}"
    verification += (
        f"核查时限为{matter.verification_days}个工作日。申请人有义务配合核查，"
        "如实说明情况、提供有关材料；核查人员依法开展实地调查时，申请人应当予以协助。"
    )

    if matter.publish_pledges:
        scope = (matter.publication_scope or "").strip() or "本事项目录未载明公开范围"
        period = (
            f"{matter.publication_period_days}日"
            if matter.publication_period_days
            else "本事项目录未载明公开期限"
        )
        publication = f"本承诺书将予以公开。公开范围：{_sentence(scope)}公开期限：{period}。"
    else:
        publication = "本承诺书不向社会公开，由行政机关存档备查。"
    publication += "承诺不实的，相关失信信息依照信用信息管理规定记录并公示。"

    return [
        {
            "key": "matter",
            "title": "事项名称",
            "body": (
                f"{matter.name}。本告知书所涉证明：{_sentence(certificate)}办理机关：{department}。"
            ),
        },
        {
            "key": "legal_basis",
            "title": "设定依据",
            "body": _sentence(legal_basis) if legal_basis else NO_LEGAL_BASIS,
        },
        {
            "key": "conditions",
            "title": "证明内容（应当具备的条件）",
            "body": (
                f"办理“{matter.name}”，申请人应当具备“{short}”所证明的条件，"
                "即该证明所载明的情况真实存在、符合规定。"
                f"申请人以承诺代替提交“{short}”的，即表示本人已经具备上述条件。"
            ),
        },
        {
            "key": "how_to_pledge",
            "title": "承诺方式",
            "body": (
                "是否选择告知承诺，由申请人自主决定；申请人不愿承诺的，可以提交证明，按原方式办理。"
                "选择承诺的，申请人应当阅读本告知书全文，逐项确认承诺内容，并由本人签名"
                "（网上签署的，录入与实名登记一致的姓名并手写签名），签名即视为作出承诺。"
                f"{_copies_text(matter.copies)}"
                "不得代替他人作出承诺；委托代理人办理的，应当提交授权委托书并登记。"
                "在行政机关作出决定前，申请人可以撤回承诺，改为提交证明。"
            ),
        },
        {
            "key": "liability",
            "title": "承诺不实的法律责任",
            "body": (
                "申请人作出不实承诺的，行政机关将依法终止办理、责令限期整改、撤销已作出的决定，"
                "或者依法给予行政处罚，申请人承担相应的行政法律责任；"
                "给他人造成损失的，依法承担民事赔偿责任；涉嫌犯罪的，依法移送司法机关追究刑事责任。"
                "虚假承诺情况将记入申请人的信用记录，在信用修复之前，申请人不得再适用告知承诺制。"
            ),
        },
        {"key": "verification", "title": "行政机关核查权力与申请人配合义务", "body": verification},
        {"key": "publication", "title": "承诺书是否公开", "body": publication},
    ]


def default_statements(matter) -> list[dict]:
    """The five pledges of DOMAIN.md §1, as ``{"key", "text"}`` dicts."""
    short = certificate_short_name(matter.certificate)
    return [
        {"key": "informed", "text": "本人已经知晓行政机关告知的全部内容。"},
        {
            "key": "conditions_met",
            "text": f"本人已经符合办理“{matter.name}”的条件，具备“{short}”所证明的情况。",
        },
        {"key": "truthful", "text": "本人所填写的信息和提供的材料真实、准确、完整。"},
        {
            "key": "accepts_consequences",
            "text": (
                "本人愿意接受并配合行政机关的核查；如承诺不实，愿意承担相应的法律责任，"
                "并接受由此产生的信用记录等后果。"
            ),
        },
        {"key": "free_will", "text": "本承诺是本人真实意思的表示，系本人自愿作出。"},
    ]
