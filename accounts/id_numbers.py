"""The resident ID number (公民身份号码, GB 11643-1999): check, normalise, mask, hash.

18 characters: 6-digit address code, 8-digit birth date, 3-digit sequence (odd male, even
female) and a check character computed by ISO 7064 MOD 11-2.
"""

import datetime as dt
import hashlib
import hmac
import re
import unicodedata

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")


class InvalidIdNumber(ValueError):
    """Raised with a message saying what is wrong with the number."""


def check_character(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def normalise(raw: str) -> str:
    """Fold full-width characters (NFKC), strip blanks and upper-case a trailing x."""
    return unicodedata.normalize("NFKC", raw or "").strip().replace(" ", "").upper()


def validate(raw: str, *, today: dt.date | None = None) -> str:
    """Return the normalised number or raise ``InvalidIdNumber``."""
    from django.utils.translation import gettext as _

    number = normalise(raw)
    if not _SHAPE.match(number):
        raise InvalidIdNumber(_("An ID number has 18 characters: 17 digits and a digit or X."))
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise InvalidIdNumber(_("The birth date in the ID number does not exist.")) from exc
    today = today or dt.date.today()
    if birth > today or birth.year < 1850:
        raise InvalidIdNumber(_("The birth date in the ID number is not possible."))
    if check_character(number[:17]) != number[17]:
        raise InvalidIdNumber(_("The check character of the ID number is wrong."))
    return number


def is_valid(raw: str) -> bool:
    try:
        validate(raw)
    except InvalidIdNumber:
        return False
    return True


def birth_date(number: str) -> dt.date:
    return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def mask(number: str) -> str:
    """``110105********002X``: address code and last four shown, birth date hidden."""
    if not number:
        return ""
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def keyed_hash(number: str, key: str | None = None) -> str:
    """HMAC-SHA256 of the normalised number: finds a person without storing the number."""
    if key is None:
        from django.conf import settings

        key = settings.ID_HASH_KEY
    return hmac.new(key.encode(), normalise(number).encode(), hashlib.sha256).hexdigest()


def make_number(address: str, birth: dt.date, sequence: int) -> str:
    """Build a valid number (demo data and tests)."""
    first17 = f"{address}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)
