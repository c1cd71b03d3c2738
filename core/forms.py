"""Helpers for pages that call services."""

from .errors import DomainError


def add_domain_error(form, error: DomainError) -> None:
    """Show a service's refusal on the form field it names, or on the whole form."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)
