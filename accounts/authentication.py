"""API token authentication that loads, in one query, what nearly every request asks next.

DRF's ``TokenAuthentication`` reads the token and its account; the views then ask for the
account's roles (``roles.has_role``: one query) and its person (one more), and signing a
pledge needs both. Here one prepared query (``core.prepared``) reads the token, the
account, its person and its unit, and the account's role names, which are handed to
``roles.has_role`` through its cache. Behaviour is DRF's: same header, same refusals.
"""

from django.db.models import OuterRef, StringAgg, Subquery, Value
from rest_framework import authentication

from core.prepared import PreparedQuery

from . import roles

_SEPARATOR = ","  # no role name holds it; only role names (roles.ALL_ROLES) are aggregated


def _token_with_account(key):
    """The token, its account with person and unit, and the account's role names."""
    # Imported here: DRF loads authentication classes while settings are read, maybe before
    # the app registry is ready.
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    role_names = Subquery(
        Group.objects.filter(user=OuterRef("user_id"), name__in=roles.ALL_ROLES)
        .values("user")
        .annotate(names=StringAgg("name", Value(_SEPARATOR)))
        .values("names")
    )
    return (
        Token.objects.select_related("user", "user__person", "user__unit")
        .annotate(role_names=role_names)
        .filter(key=key)
    )


_token_read = PreparedQuery(_token_with_account, "key")


class TokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``, as DRF's, with the account's person, unit and roles."""

    def authenticate_credentials(self, key):
        token = _token_read.first(key=key)
        if token is None or not token.user.is_active:
            # DRF's own refusal and message ("Invalid token." / "User inactive or deleted.")
            return super().authenticate_credentials(key)
        user = token.user
        user._role_names = set(token.role_names.split(_SEPARATOR)) if token.role_names else set()
        return user, token
