from django.urls import path

from .api import AuditExportView, MyDataView, TokenView

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("me/data/", MyDataView.as_view(), name="api-my-data"),
    path("audit/events/", AuditExportView.as_view(), name="api-audit-events"),
]
