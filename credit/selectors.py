"""Reads of the credit app used by other apps. ``eligibility_for`` is asked before signing."""

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Eligibility:
    """Whether a person may pledge now; if not, why, until when and how to restore it."""

    eligible: bool
    reason: str = ""
    until: dt.date | None = None
    how_to_restore: str = ""


def eligibility_for(person) -> Eligibility:
    """Credit records arrive with the credit ledger; until then every person may pledge."""
    return Eligibility(eligible=True)
