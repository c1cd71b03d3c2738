"""The site's URLs plus ``POST /api/v1/pledges/{number}/revocation/``.

``pledges/api_urls.py`` is to include ``pledges.lifecycle_api.urlpatterns``; until it does,
the revocation API tests use this URLconf (a route listed twice is harmless: the first wins).
"""

from django.urls import include, path

from config.urls import urlpatterns as site
from pledges.lifecycle_api import urlpatterns as lifecycle

urlpatterns = [path("api/v1/", include(lifecycle)), *site]
