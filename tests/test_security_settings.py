"""Web hardening: Content Security Policy without inline script, HSTS and secure cookies in
production, sessions that idle out, rate limits on the API per token and per address."""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from core.throttling import AnonymousRateThrottle, TokenRateThrottle
from tests.factories import login_staff, make_staff
from tests.test_settings import manage

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)


def inline_script_problems(html: str) -> list[str]:
    problems = []
    for attributes in SCRIPT_TAG.findall(html):
        executable = (
            "application/json" not in attributes and "application/ld+json" not in attributes
        )
        if executable and "src=" not in attributes and "nonce=" not in attributes:
            problems.append(f"<script{attributes}> without src or nonce")
    problems += [m.group(0)[:80] for m in INLINE_HANDLER.finditer(html)]
    return problems


def test_every_page_carries_a_strict_content_security_policy(client):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
    )
    assert directives["default-src"] == ["'self'"]
    # A nonce is added only to responses whose page uses one (see the Swagger UI test).
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]


def test_templates_have_no_inline_scripts_or_handlers():
    """The policy blocks inline script: a template needs a static file (or the nonce)."""
    problems = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        found = inline_script_problems(path.read_text(encoding="utf-8"))
        if found:
            problems[str(path.relative_to(TEMPLATES))] = found
    assert problems == {}, (
        'Move these scripts into static/js/ (or add nonce="{{ csp_nonce }}"): '
        + json.dumps(problems, ensure_ascii=False)
    )


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/accounts/login/",
        "/accounts/register/",
        "/accounts/password-reset/",
        "/accounts/password-reset/confirm/",
        "/accounts/privacy/",
        "/api/docs/",
    ],
)
def test_public_pages_render_no_inline_script(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert inline_script_problems(response.content.decode()) == []


def test_swagger_ui_scripts_carry_the_responses_nonce(client):
    response = client.get("/api/docs/")
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    html = response.content.decode()
    inline = [a for a in SCRIPT_TAG.findall(html) if "src=" not in a]
    assert inline and all(f'nonce="{nonce}"' in a for a in inline)


def test_staff_pages_render_no_inline_script(client):
    clerk = make_staff("window_clerk", "clerk")
    login_staff(client, clerk)
    for url in ("/window/", "/accounts/two-factor/", "/accounts/my-data/", "/notifications/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert inline_script_problems(response.content.decode()) == [], url


def test_language_switch_works_without_an_inline_handler(client):
    html = client.get("/").content.decode()
    assert "data-autosubmit" in html
    assert "js/site.js" in html
    script = (Path(django_settings.BASE_DIR) / "static" / "js" / "site.js").read_text()
    assert "select[data-autosubmit]" in script


def test_sessions_end_after_inactivity_and_every_request_renews_them(client, resident):
    assert django_settings.SESSION_SAVE_EVERY_REQUEST is True
    assert 0 < django_settings.SESSION_COOKIE_AGE <= 60 * 60
    assert (
        0
        < django_settings.CHENGNUO_STAFF_SESSION_IDLE_SECONDS
        <= django_settings.SESSION_COOKIE_AGE
    )
    client.force_login(resident)
    response = client.get("/")
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == django_settings.SESSION_COOKIE_AGE
    assert cookie["httponly"]


def test_production_has_hsts_secure_cookies_and_the_policy(tmp_path):
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_HSTS_SECONDS >= 31536000, s.SECURE_HSTS_INCLUDE_SUBDOMAINS,"
        " s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY,"
        " s.SECURE_SSL_REDIRECT, bool(s.SECURE_CSP),"
        " 'django.middleware.csp.ContentSecurityPolicyMiddleware' in s.MIDDLEWARE,"
        " 'accounts.middleware.StaffTwoFactorMiddleware' in s.MIDDLEWARE)"
    )
    result = manage(tmp_path, "shell", "--no-imports", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"] * 9


def test_api_is_rate_limited_per_token(api_client, resident, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": None})
    monkeypatch.setattr(AnonymousRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": None})
    api_client.force_authenticate(resident)
    statuses = [api_client.get("/api/v1/pledges/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    other = make_staff("window_clerk", "clerk")
    api_client.force_authenticate(other)
    assert api_client.get("/api/v1/pledges/").status_code == 200  # its own allowance


def test_anonymous_api_calls_are_rate_limited_per_address(api_client, monkeypatch):
    monkeypatch.setattr(AnonymousRateThrottle, "THROTTLE_RATES", {"user": None, "anon": "2/min"})
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"user": None, "anon": "2/min"})
    statuses = [api_client.get("/api/v1/matters/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = api_client.get("/api/v1/matters/", REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 200


def test_default_api_rates_are_generous_and_configurable():
    rates = django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates["user"] == "10000/min"
    assert rates["anon"] == "2000/min"
    classes = django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]
    assert classes == ["core.throttling.TokenRateThrottle", "core.throttling.AnonymousRateThrottle"]
