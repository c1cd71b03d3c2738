"""The resident ID number checker (GB 11643-1999, DOMAIN.md §6)."""

import datetime as dt

import pytest
from django.utils import translation

from accounts import id_numbers
from accounts.id_numbers import InvalidIdNumber, check_character, make_number, validate


@pytest.fixture(autouse=True)
def _english():
    """The messages are matched in English; the Chinese ones are checked through the API."""
    with translation.override("en"):
        yield


STANDARD_EXAMPLES = ["11010519491231002X", "440524188001010014"]


def _with_check(first17: str) -> str:
    """A number whose check character is right, so only the part under test is wrong."""
    return first17 + check_character(first17)


@pytest.mark.parametrize("number", STANDARD_EXAMPLES)
def test_standard_examples_are_valid(number):
    assert validate(number) == number
    assert id_numbers.is_valid(number)


def test_lower_case_x_is_accepted_and_stored_upper_case():
    assert validate("11010519491231002x") == "11010519491231002X"


def test_blanks_around_and_inside_are_ignored():
    assert validate(" 110105 19491231 002X ") == "11010519491231002X"


@pytest.mark.parametrize("wrong", [c for c in "0123456789X" if c != "X"])
def test_every_wrong_check_character_is_rejected(wrong):
    with pytest.raises(InvalidIdNumber, match="check character"):
        validate("11010519491231002" + wrong)


@pytest.mark.parametrize("wrong", [c for c in "0123456789X" if c != "4"])
def test_wrong_check_character_rejected_for_a_digit_check(wrong):
    with pytest.raises(InvalidIdNumber):
        validate("44052418800101001" + wrong)


@pytest.mark.parametrize(
    "birth",
    ["19900230", "19901301", "19900001", "19900100", "19900229", "19000229"],
    ids=["feb-30", "month-13", "month-00", "day-00", "feb-29-common-year", "feb-29-1900"],
)
def test_birth_dates_that_do_not_exist_are_rejected(birth):
    with pytest.raises(InvalidIdNumber, match="does not exist"):
        validate(_with_check(f"110105{birth}002"))


def test_leap_day_in_a_leap_year_is_valid():
    number = _with_check("110105200002290011"[:17])
    assert validate(number) == number


def test_a_birth_date_in_the_future_is_rejected():
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    with pytest.raises(InvalidIdNumber, match="not possible"):
        validate(make_number("110105", tomorrow, 2))


def test_future_is_judged_against_the_given_day():
    number = make_number("110105", dt.date(2030, 6, 1), 2)
    with pytest.raises(InvalidIdNumber):
        validate(number, today=dt.date(2030, 5, 31))
    assert validate(number, today=dt.date(2030, 6, 1)) == number


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "11010519491231002",  # 17 characters
        "11010519491231002X0",  # 19 characters
        "110105194912310",  # the old 15-digit number is not accepted
        "1101051949123100AX",  # a letter among the digits
        "X10105194912310021",  # X anywhere but last
        "11010519491231002Y",
    ],
)
def test_wrong_shape_is_rejected(raw):
    with pytest.raises(InvalidIdNumber, match="18 characters"):
        validate(raw)


def test_full_width_digits_are_normalised_so_one_person_has_one_hash():
    """Typed on a Chinese phone keyboard: folded to ASCII, never kept as typed, or the same
    person would get a second keyed hash."""
    assert validate("１１０１０５１９４９１２３１００２ｘ") == "11010519491231002X"
    assert id_numbers.keyed_hash(
        "１１０１０５１９４９１２３１００２X", "k"
    ) == id_numbers.keyed_hash("11010519491231002X", "k")


def test_other_unicode_digits_are_refused():
    with pytest.raises(InvalidIdNumber):
        validate("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X")


def test_none_is_rejected_not_crashed():
    with pytest.raises(InvalidIdNumber):
        validate(None)


def test_make_number_builds_valid_numbers_with_sex_in_the_sequence():
    male = make_number("419001", dt.date(1986, 5, 12), 101)
    female = make_number("419001", dt.date(1986, 5, 12), 102)
    assert validate(male) == male and validate(female) == female
    assert int(male[14:17]) % 2 == 1
    assert int(female[14:17]) % 2 == 0
    assert id_numbers.birth_date(male) == dt.date(1986, 5, 12)


def test_mask_hides_the_birth_date_and_sequence():
    assert id_numbers.mask("11010519491231002X") == "110105********002X"
    assert id_numbers.mask("") == ""


def test_keyed_hash_is_stable_and_ignores_case_of_x():
    key = "a-test-key"
    first = id_numbers.keyed_hash("11010519491231002X", key)
    assert first == id_numbers.keyed_hash("11010519491231002X", key)
    assert first == id_numbers.keyed_hash("11010519491231002x", key)
    assert len(first) == 64
    assert "11010519491231002X" not in first


def test_keyed_hash_depends_on_the_key():
    number = "440524188001010014"
    assert id_numbers.keyed_hash(number, "key-one") != id_numbers.keyed_hash(number, "key-two")
    assert id_numbers.keyed_hash(number, "key-one") != id_numbers.keyed_hash(
        "11010519491231002X", "key-one"
    )


def test_keyed_hash_uses_the_configured_key_by_default(settings):
    settings.ID_HASH_KEY = "configured-key"
    number = "440524188001010014"
    assert id_numbers.keyed_hash(number) == id_numbers.keyed_hash(number, "configured-key")
    settings.ID_HASH_KEY = "another-key"
    assert id_numbers.keyed_hash(number) != id_numbers.keyed_hash(number, "configured-key")
