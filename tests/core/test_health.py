"""Liveness and readiness probes: /healthz never touches the database, /readyz checks it all."""

import pytest
from django.db import OperationalError, connections

from core import health


@pytest.fixture(autouse=True)
def _fresh_font_cache(monkeypatch):
    monkeypatch.setattr(health, "_fonts_found", False)


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: any database access here would raise and fail the test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_reports_each_check_and_answers_200_when_all_pass(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "storage", "fonts"}
    assert all(check["ok"] and check["ms"] >= 0 for check in body["checks"].values())


@pytest.mark.django_db
def test_readyz_answers_503_with_retry_after_when_the_broker_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Retry-After"] == str(health.RETRY_AFTER_SECONDS)
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is False
    assert checks["broker"]["error"] == "OperationalError"  # the class, never the host
    assert checks["database"]["ok"] is True


@pytest.mark.django_db
def test_readyz_answers_503_when_the_database_is_unreachable(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connections["default"], "cursor", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {
        "ok": False,
        "error": "OperationalError",
        "ms": response.json()["checks"]["database"]["ms"],
    }


@pytest.mark.django_db
def test_readyz_fails_when_the_private_storage_cannot_be_written(client, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker / "private")},
        },
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"]["ok"] is False


@pytest.mark.django_db
def test_readyz_fails_without_fontconfig(client, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["fonts"] == {
        "ok": False,
        "error": "FileNotFoundError",
        "ms": response.json()["checks"]["fonts"]["ms"],
    }


def test_filesystem_broker_check_fails_when_its_folder_is_missing(settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "gone")}
    ready, results = health.run_checks({"broker": health.check_broker})
    assert not ready
    assert results["broker"]["error"] == "FileNotFoundError"
