"""The OpenAPI schema documents every answer an operation can give, refusals included.

drf-spectacular describes the successful answer of each operation. The API conventions
(``core.api``) add the refusals: 400 with per-field messages, 401 without valid credentials,
403 for a role that may not act, 404 for an unknown object or page, 409 for an object in the
wrong state, 415 for a body in a media type the operation does not take, 429 past a rate
limit, and 503 while the database is away (``core.unavailable``), each with the same error
body. ``AutoSchema`` adds them to every operation they can happen on, so clients (and the
schemathesis fuzz test, ``tests/test_fuzz.py``) can rely on the schema for every status code
the API answers with.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent

ERROR_COMPONENT = "Error"

#: The error body of ``core.api``: a stable ``code``, a ``detail`` message for refusals and,
#: for input problems, each field's messages (nested objects for nested fields).
ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "An error: `code` (stable, e.g. `invalid`, `not_authenticated`, `permission_denied`, "
        "`not_found`, `conflict`, `throttled`, `unavailable`), `detail` (a message in the "
        "request's language) and, for invalid input, `{field: [message, ...]}` per field."
    ),
    "properties": {
        "code": {"type": "string"},
        "detail": {"type": "string"},
    },
    "required": ["code"],
    "additionalProperties": True,
}

DESCRIPTIONS = {
    "400": "Invalid input: the messages per field, or a refusal by a business rule.",
    "401": "No valid credentials (a missing, wrong or expired token).",
    "403": "Your role may not do this.",
    "404": "No such object visible to you, or no such page.",
    "409": "The object is not in a state that allows this.",
    "415": "The body is not in a media type the operation accepts (see `requestBody`).",
    "429": "Too many requests; try again later (see `Retry-After`).",
    "503": "The database is briefly away; try again after `Retry-After` seconds.",
}

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class AutoSchema(SpectacularAutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = self._error_component()
        responses = operation["responses"]
        for code in self.error_statuses(operation):
            responses.setdefault(code, {"description": DESCRIPTIONS[code]})
        for code, response in responses.items():
            if code[:1] in ("4", "5") and "content" not in response:
                response["content"] = {"application/json": {"schema": error.ref}}
        return operation

    def error_statuses(self, operation) -> list[str]:
        """The refusals the conventions allow on this operation."""
        security = operation.get("security", [])
        anonymous = {} in security or not security
        parameters = operation.get("parameters", [])
        unsafe = self.method in UNSAFE_METHODS
        codes = []
        if parameters or "requestBody" in operation:
            codes.append("400")
        if any(requirement for requirement in security):
            codes.append("401")  # a wrong token is refused even where none is needed
        if not anonymous or unsafe:
            codes.append("403")  # roles; and the CSRF check of session-authenticated writes
        if "{" in self.path or any(p["name"] == "page" for p in parameters):
            codes.append("404")
        if unsafe:
            codes.append("409")
        if "requestBody" in operation:
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
        codes.append("503")
        return codes

    def _error_component(self) -> ResolvedComponent:
        component = ResolvedComponent(
            name=ERROR_COMPONENT,
            type=ResolvedComponent.SCHEMA,
            schema=ERROR_SCHEMA,
            object=ERROR_COMPONENT,
        )
        self.registry.register_on_missing(component)
        return component
