from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("guides", api.GuideViewSet, basename="api-guide")
router.register("catalog-lists", api.CatalogListViewSet, basename="api-catalog-list")
router.register("complaints", api.ComplaintViewSet, basename="api-complaint")

urlpatterns = router.urls + [
    path("reports/quarterly/", api.QuarterlyReportView.as_view(), name="api-quarterly-report"),
    path(
        "reports/quarterly/export/",
        api.QuarterlyExportView.as_view(),
        name="api-quarterly-report-export",
    ),
    path(
        "reports/quarterly/jobs/<int:pk>/",
        api.QuarterlyJobView.as_view(),
        name="api-quarterly-report-job",
    ),
    path(
        "reports/quarterly/jobs/<int:pk>/file/",
        api.QuarterlyJobFileView.as_view(),
        name="api-quarterly-report-file",
    ),
]
