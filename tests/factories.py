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


def make_staff(role: str, username: str | None = None, *, unit: Unit | None = None):
    unit = unit or UnitFactory(code="SF", name="市司法局")
    user = UserFactory(username=username or f"{role}-{next(_sequence)}", role=role, unit=unit)
    if role == "catalog_admin":
        user.is_staff = True
        user.save()
    return user


def now():
    return timezone.now()
