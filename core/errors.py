"""Domain errors raised by services; the API and the pages translate them.

Services never raise HTTP errors. Each domain error carries a stable ``code`` and, where the
problem is about one input field, the ``field`` it belongs to.
"""


class DomainError(Exception):
    """Base of every business-rule refusal. Maps to HTTP 400."""

    code = "invalid"
    status = 400

    def __init__(self, message, *, field=None, code=None, extra=None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code
        self.extra = extra or {}


class NotAllowed(DomainError):
    """The actor may not do this (HTTP 403)."""

    code = "forbidden"
    status = 403


class Conflict(DomainError):
    """The object is no longer in a state that allows this (HTTP 409)."""

    code = "conflict"
    status = 409


class NotFound(DomainError):
    code = "not_found"
    status = 404
