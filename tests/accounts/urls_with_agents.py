"""The project's URLs plus the agent pages, for tests until ``config/urls.py`` includes
``accounts.agent_urls`` itself (then this adds nothing)."""

from django.urls import include, path

from config.urls import urlpatterns as project_urlpatterns


def _has_agents(patterns) -> bool:
    return any(getattr(p, "namespace", None) == "agents" for p in patterns)


urlpatterns = list(project_urlpatterns)
if not _has_agents(urlpatterns):
    urlpatterns.append(path("", include("accounts.agent_urls")))
