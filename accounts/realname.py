"""Real-name check backends (实名核验). Pluggable via ``CHENGNUO_REAL_NAME_BACKEND``.

A production backend calls the public-security identity service; the demo backend checks
name and ID number against a local registry table loaded from CSV.
"""

from django.conf import settings
from django.utils.module_loading import import_string

from . import id_numbers


class BaseRealNameBackend:
    def matches(self, *, name: str, id_number: str) -> bool:
        raise NotImplementedError


class LocalRegistryBackend(BaseRealNameBackend):
    def matches(self, *, name: str, id_number: str) -> bool:
        from .models import RegistryEntry

        return RegistryEntry.objects.filter(
            id_hash=id_numbers.keyed_hash(id_number), name=name.strip()
        ).exists()


def real_name_matches(*, name: str, id_number: str) -> bool:
    return import_string(settings.CHENGNUO_REAL_NAME_BACKEND)().matches(
        name=name, id_number=id_number
    )
