"""The public verify page a form's QR code opens: confirms the form, reveals nothing more."""

import pytest
from django.test import Client
from django.utils import timezone

from pledges import printing, selectors
from pledges.services import pledge_withdraw
from tests.factories import MatterFactory, make_resident, sign_pledge

pytestmark = pytest.mark.django_db


@pytest.fixture
def pledge(db):
    return sign_pledge(make_resident(name="王小明"), MatterFactory(name="居住证申领"))


def test_real_link_confirms_number_matter_date_status_and_hash(pledge):
    response = Client().get(selectors.verify_path(pledge))

    assert response.status_code == 200
    html = response.content.decode()
    assert pledge.number in html
    assert "居住证申领" in html
    assert pledge.content_sha256 in html
    assert timezone.localtime(pledge.signed_at).strftime("%Y-%m-%d") in html
    assert pledge.get_status_display() in html
    assert "王*明" in html
    assert response["Cache-Control"] == "no-store"


def test_verify_page_shows_no_id_number_and_no_full_name(pledge):
    person = pledge.person

    html = Client().get(selectors.verify_path(pledge)).content.decode()

    assert person.id_number not in html
    assert person.id_masked not in html
    assert person.id_number[:6] + "*" not in html
    assert "王小明" not in html
    assert person.phone not in html


def test_status_change_shows_on_the_same_link(pledge):
    path = selectors.verify_path(pledge)
    pledge_withdraw(pledge=pledge, actor=pledge.account)

    html = Client().get(path).content.decode()

    assert "status-withdrawn" in html


@pytest.mark.parametrize(
    "path",
    [
        "/verify/{number}/{forged}/",
        "/verify/{number}/x/",
        "/verify/CN-1999-999999/{token}/",
        "/verify/{other}/{token}/",
    ],
)
def test_forged_or_unknown_link_is_404_saying_the_form_cannot_be_confirmed(pledge, path):
    other = sign_pledge(make_resident(), MatterFactory())
    token = selectors.verify_token(pledge)
    forged = ("A" if token[0] != "A" else "B") + token[1:]

    response = Client().get(
        path.format(number=pledge.number, forged=forged, token=token, other=other.number)
    )

    assert response.status_code == 404
    html = response.content.decode()
    assert 'id="verify-result"' in html
    assert "verify-hash" not in html
    assert pledge.content_sha256 not in html


def test_token_is_bound_to_the_frozen_content(pledge):
    """Change the stored content and the printed QR no longer verifies it."""
    path = selectors.verify_path(pledge)
    type(pledge).objects.filter(pk=pledge.pk).update(content_sha256="0" * 64)

    assert Client().get(path).status_code == 404


def test_verify_is_rate_limited_per_ip(pledge, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "verify": "3/min",
        },
    }
    path = selectors.verify_path(pledge)
    client = Client(REMOTE_ADDR="203.0.113.7")

    codes = [client.get(path).status_code for _ in range(3)]
    limited = client.get(path)

    assert codes == [200, 200, 200]
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1
    # Another address is not limited, and a forged X-Forwarded-For does not reset the limit.
    assert Client(REMOTE_ADDR="203.0.113.8").get(path).status_code == 200
    assert client.get(path, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429


def test_wrong_tokens_count_against_the_limit_too(pledge, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "verify": "2/min",
        },
    }
    client = Client(REMOTE_ADDR="203.0.113.9")

    assert client.get(f"/verify/{pledge.number}/guess1/").status_code == 404
    assert client.get(f"/verify/{pledge.number}/guess2/").status_code == 404
    assert client.get(selectors.verify_path(pledge)).status_code == 429


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("王小明", "王*明"), ("欧阳娜娜", "欧**娜"), ("李", "*"), ("", "")],
)
def test_names_are_masked_like_official_notices(name, masked):
    assert printing.mask_name(name) == masked


def test_printed_qr_url_is_the_verify_page(pledge, settings):
    settings.CHENGNUO_PUBLIC_BASE_URL = "https://chengnuo.example.gov.cn"

    url = printing.public_verify_url(pledge)

    assert url == "https://chengnuo.example.gov.cn" + selectors.verify_path(pledge)
    path = url.removeprefix("https://chengnuo.example.gov.cn")
    assert Client().get(path).status_code == 200
