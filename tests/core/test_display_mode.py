"""The elderly-friendly display (适老化): a cookie read on the server, switched by a form."""

import pytest
from django.test import Client

from core.context_processors import ELDER_COOKIE


@pytest.mark.django_db
def test_the_first_render_is_large_when_the_cookie_says_so(client):
    client.cookies[ELDER_COOKIE] = "1"
    html = client.get("/").content.decode()
    assert '<html lang="zh-hans" class="elder">' in html
    assert "css/elder.css" in html


@pytest.mark.django_db
def test_the_standard_display_loads_no_elder_stylesheet(client):
    html = client.get("/").content.decode()
    assert 'class="elder"' not in html and "css/elder.css" not in html
    assert 'id="display-switch"' in html  # the switch is on every page


@pytest.mark.django_db
def test_switching_on_remembers_it_for_a_year_and_returns_to_the_page(client):
    response = client.post("/display/", {"elder": "1", "next": "/matters/X-1/?q=a"})
    assert response.status_code == 302
    assert response["Location"] == "/matters/X-1/?q=a"
    cookie = response.cookies[ELDER_COOKIE]
    assert cookie.value == "1"
    assert int(cookie["max-age"]) == 365 * 24 * 3600
    assert cookie["samesite"] == "Lax"
    assert cookie["httponly"]


@pytest.mark.django_db
def test_switching_off_deletes_the_cookie(client):
    client.cookies[ELDER_COOKIE] = "1"
    response = client.post("/display/", {"elder": "0", "next": "/"})
    assert response.cookies[ELDER_COOKIE].value == ""
    assert response.cookies[ELDER_COOKIE]["max-age"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"]
)
def test_the_switch_never_redirects_off_site(client, target):
    response = client.post("/display/", {"elder": "1", "next": target})
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_the_switch_needs_the_csrf_token_and_a_post():
    client = Client(enforce_csrf_checks=True)
    assert client.post("/display/", {"elder": "1"}).status_code == 403
    assert client.get("/display/").status_code == 405
