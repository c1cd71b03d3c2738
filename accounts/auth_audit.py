"""Every sign-in and every failed one goes to the audit log, pages and API alike.

Django sends ``user_logged_in`` from ``login()`` and ``user_login_failed`` from
``authenticate()``; the page sign-in, the registration and the API token view all go through
one of the two, so these handlers are the one place that records them. Lockouts are recorded
by ``accounts.throttle``; the second-factor step records its own failures.
"""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from core.audit import audit_record


def _channel(request) -> str:
    path = getattr(request, "path", "") or ""
    return "api" if path.startswith("/api/") else "page"


@receiver(user_logged_in, dispatch_uid="accounts.audit_login")
def audit_login(sender, request, user, **kwargs):
    from .two_factor import factor_kind

    device = getattr(user, "otp_device", None)
    audit_record(
        actor=user,
        action="auth.login",
        obj=user,
        data={
            "channel": _channel(request),
            "second_factor": factor_kind(device) if device is not None else "",
        },
    )


@receiver(user_logged_out, dispatch_uid="accounts.audit_logout")
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=user, action="auth.logout", obj=user)


@receiver(user_login_failed, dispatch_uid="accounts.audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    audit_record(
        actor=None,
        action="auth.failed",
        data={"username": str(credentials.get("username", ""))[:150], "channel": _channel(request)},
    )
