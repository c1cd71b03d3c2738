"""Pages of the service window for agent authorisations; included from ``config/urls.py``
with ``path("", include("accounts.agent_urls"))``."""

from django.urls import path

from . import agent_views

app_name = "agents"

urlpatterns = [
    path("window/agents/", agent_views.agent_list, name="list"),
    path("window/agents/<int:pk>/revoke/", agent_views.agent_revoke, name="revoke"),
    path("window/agents/<int:pk>/scan/", agent_views.agent_scan, name="scan"),
]
