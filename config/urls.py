from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# Each app keeps its API routes in ``api_urls.py`` and its pages in ``urls.py``.
api_v1 = [
    path("", include("accounts.api_urls")),
    path("", include("pledges.api_urls")),
    path("", include("credit.api_urls")),
    path("verification/", include("verification.api_urls")),
    path("", include("oversight.api_urls")),
]

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include(api_v1)),
    path("accounts/", include("accounts.urls")),
    path("", include("accounts.agent_urls")),
    path("", include("core.urls")),
    path("", include("pledges.urls")),
    path("", include("pledges.print_urls")),
    path("", include("credit.urls")),
    path("", include("verification.urls")),
    path("", include("oversight.urls")),
]

handler404 = "core.views.not_found"

# A database that is away answers 503 with Retry-After (core/unavailable.py), not a 500.
handler500 = "core.unavailable.server_error"

admin.site.site_header = "承诺制管理后台 Chengnuo"
admin.site.site_title = "Chengnuo"
