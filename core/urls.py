from django.urls import path

from . import health, metrics, views

app_name = "core"

urlpatterns = [
    path("notifications/", views.notifications, name="notifications"),
    path("display/", views.display_mode, name="display_mode"),
    # Operations: probes and metrics, without a trailing slash (what probes ask for).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
