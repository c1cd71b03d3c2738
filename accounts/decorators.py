"""View decorators shared by every app's pages."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404

from . import roles


def role_required(*names):
    """Sign-in required, then one of ``names``; other roles get 404 (the page is not theirs)."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not roles.has_role(request.user, *names):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
