"""Roles are Django groups, created by a migration. Staff means any role but ``resident``."""

RESIDENT = "resident"
WINDOW_CLERK = "window_clerk"
VERIFICATION_OFFICER = "verification_officer"
VERIFICATION_SUPERVISOR = "verification_supervisor"
CREDIT_OFFICER = "credit_officer"
CATALOG_ADMIN = "catalog_admin"
OVERSIGHT_OFFICER = "oversight_officer"
LIST_SUBMITTER = "list_submitter"

ALL_ROLES = (
    RESIDENT,
    WINDOW_CLERK,
    VERIFICATION_OFFICER,
    VERIFICATION_SUPERVISOR,
    CREDIT_OFFICER,
    CATALOG_ADMIN,
    OVERSIGHT_OFFICER,
    LIST_SUBMITTER,
)
STAFF_ROLES = tuple(role for role in ALL_ROLES if role != RESIDENT)


def has_role(user, *roles: str) -> bool:
    if not user or not user.is_authenticated:
        return False
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._role_names = cached
    return bool(cached.intersection(roles))


def is_staff_role(user) -> bool:
    return has_role(user, *STAFF_ROLES)
