"""View decorators shared by every app's pages."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404

from . import roles


def role_required(*names, hide: bool = True):
    """Sign-in required, then one of ``names``. Other roles get 404 when ``hide`` (the page
    is not theirs to know of), else 403."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not roles.has_role(request.user, *names):
                raise Http404 if hide else PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
