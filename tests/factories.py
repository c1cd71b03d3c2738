"""factory_boy factories shared by the whole suite."""

import datetime as dt
import itertools

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts import id_numbers
from accounts.models import Person, RegistryEntry, Unit, User

_sequence = itertools.count(1)


def valid_id_number(n: int | None = None, *, address: str = "419001") -> str:
    """A fresh valid ID number (Jiyuan address code by default)."""
    n = n if n is not None else next(_sequence)
    birth = dt.date(1960, 1, 1) + dt.timedelta(days=(n * 37) % 15000)
    return id_numbers.make_number(address, birth, n % 1000)


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"U{n:04d}")
    name = factory.Sequence(lambda n: f"单位{n}")
    kind = Unit.Kind.DEPARTMENT

    class Params:
        town = factory.Trait(kind=Unit.Kind.TOWN, name=factory.Sequence(lambda n: f"测试镇{n}"))
        hall = factory.Trait(kind=Unit.Kind.SERVICE_HALL)


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"居民{n}")
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    address = "沁园街道示范路1号"

    @factory.post_generation
    def id_number(self, create, extracted, **kwargs):
        self.set_id_number(extracted or valid_id_number())
        if create:
            self.save()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    real_name = factory.Sequence(lambda n: f"用户{n}")
    password = factory.PostGenerationMethodCall("set_password", "pass-Word-123")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))
        self.save()


def make_resident(username: str | None = None, *, name: str | None = None, **person_kwargs):
    """A resident account with its person, registered in the population registry."""
    person = PersonFactory(**({"name": name} if name else {}), **person_kwargs)
    user = UserFactory(
        username=username or f"resident{person.pk}",
        real_name=person.name,
        phone=person.phone,
        person=person,
        role="resident",
    )
    RegistryEntry.objects.get_or_create(id_hash=person.id_hash, defaults={"name": person.name})
    return user


def default_unit(role: str) -> Unit:
    """The unit a test staff account of ``role`` belongs to unless told: a window clerk sits
    in the service hall, everyone else in 市司法局 (the department of ``MatterFactory``'s
    matters). Per-unit scopes (docs/access.md) follow from it."""
    if role == "window_clerk":
        return UnitFactory(code="HALL", name="市民之家政务服务大厅", kind=Unit.Kind.SERVICE_HALL)
    return UnitFactory(code="SF", name="市司法局")


def make_staff(
    role: str, username: str | None = None, *, unit: Unit | None = None, totp: bool = True
):
    """A staff account of ``role``. It has an authenticator with ``TEST_TOTP_SECRET`` (staff
    sign in with a second factor): ``totp_code(user)`` gives a code it accepts, and
    ``login_staff(client, user)`` signs a test client in with the factor passed."""
    from accounts.two_factor import totp_provision

    unit = unit or default_unit(role)
    user = UserFactory(username=username or f"{role}-{next(_sequence)}", role=role, unit=unit)
    if role == "catalog_admin":
        user.is_staff = True
        user.save()
    if totp:
        totp_provision(user=user, secret_base32=TEST_TOTP_SECRET)
    return user


# ---- staff two-factor sign-in in tests --------------------------------------------------

# RFC 6238's test secret ("12345678901234567890") in base32: every test staff account's.
TEST_TOTP_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def totp_code(user) -> str:
    """A 6-digit code the user's authenticator accepts now.

    Each TOTP code is accepted once; after a sign-in in the same 30 seconds this gives the
    next step's code, which the one step of clock tolerance still accepts.
    """
    import time

    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()
    if device is None:
        raise ValueError(f"{user} has no authenticator")
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if totp.t() <= device.last_t:
        totp.time += device.step * (device.last_t + 1 - totp.t())
    return f"{totp.token():0{device.digits}d}"


def login_staff(client, user):
    """``client.force_login(user)`` with the second factor passed, as after a real sign-in.

    Page tests for staff use this instead of ``force_login`` (the two-factor middleware sends
    an unverified staff session to the code step). API tests keep ``force_authenticate``.
    """
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=user, name="test", key=_test_key_hex(), confirmed=True
        )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def _test_key_hex() -> str:
    import base64

    return base64.b32decode(TEST_TOTP_SECRET).hex()


def now():
    return timezone.now()


# ---- catalog and pledges ----------------------------------------------------------------

STATEMENTS = [
    {"key": "informed", "text": "本人已知晓告知的全部内容。"},
    {"key": "conditions_met", "text": "本人符合告知的条件。"},
    {"key": "truthful", "text": "本人所填写的信息真实、准确。"},
    {"key": "accepts_consequences", "text": "本人愿意接受核查并承担不实承诺的法律责任。"},
    {"key": "free_will", "text": "本承诺是本人真实意思的表示。"},
]

NOTICE = [
    {"key": "matter", "title": "事项名称", "body": "测试事项"},
    {"key": "legal_basis", "title": "设定依据", "body": "测试依据"},
    {"key": "conditions", "title": "证明内容", "body": "符合条件"},
    {"key": "how_to_pledge", "title": "承诺方式", "body": "书面承诺"},
    {"key": "liability", "title": "法律责任", "body": "承担责任"},
    {"key": "verification", "title": "核查权力", "body": "事后核查"},
    {"key": "publication", "title": "公开", "body": "不公开"},
]


class MatterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "pledges.Matter"
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"T-{n:03d}")
    name = factory.Sequence(lambda n: f"测试事项{n}")
    department = factory.SubFactory(UnitFactory, code="SF", name="市司法局")
    certificate = "经济困难证明"
    legal_basis = "《测试条例》第一条"
    disposition = "pledge"
    risk_level = "medium"
    verification_methods = ["data_check"]
    valid_from = dt.date(2020, 1, 1)

    class Params:
        must_not_issue = factory.Trait(disposition="must_not_issue")
        excluded = factory.Trait(excluded_from_pledge=True, exclusion_reason="涉及人身健康")

    @factory.post_generation
    def with_template(self, create, extracted, **kwargs):
        if create and extracted is not False and self.disposition == "pledge":
            from pledges.models import PledgeTemplate

            if not self.templates.exists():
                PledgeTemplate.objects.create(
                    matter=self,
                    version=1,
                    notice=NOTICE,
                    statements=STATEMENTS,
                    status=PledgeTemplate.Status.PUBLISHED,
                    published_at=timezone.now(),
                )


# A 1×1 transparent PNG as a data URI: the smallest drawn signature.
SIGNATURE_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def sign_pledge(user, matter=None, **overrides):
    """Sign a pledge online as resident ``user`` through the service."""
    from pledges.services import pledge_sign

    matter = matter or MatterFactory()
    person = user.person
    return pledge_sign(
        matter=matter,
        applicant={"name": person.name, "id_number": person.id_number, "phone": person.phone},
        actor=user,
        statements_accepted=True,
        typed_name=person.name,
        signature_image=SIGNATURE_PNG,
        **overrides,
    )


def pledge_body(user, target, **overrides):
    """A JSON body for ``POST /api/v1/pledges/`` as ``user`` pledging for themselves."""
    person = user.person
    body = {
        "matter": target.code,
        "applicant": {
            "name": person.name,
            "id_number": person.id_number,
            "phone": person.phone,
            "address": person.address,
        },
        "statements_accepted": True,
        "signature": {"typed_name": person.name, "image": SIGNATURE_PNG},
    }
    body.update(overrides)
    return body


def sign_at_window(clerk, person=None, matter=None, **overrides):
    """A pledge recorded at ``clerk``'s window (the applicant drew the signature there): in
    the scope of the clerks of that hall. ``person`` defaults to a new one."""
    from pledges.models import Channel
    from pledges.services import pledge_sign

    person = person or PersonFactory()
    matter = matter or MatterFactory()
    return pledge_sign(
        matter=matter,
        applicant={"name": person.name, "id_number": person.id_number, "phone": person.phone},
        actor=clerk,
        statements_accepted=True,
        typed_name=person.name,
        signature_image=SIGNATURE_PNG,
        channel=Channel.WINDOW,
        **overrides,
    )
