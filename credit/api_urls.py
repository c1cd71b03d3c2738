"""Routes under /api/v1/: ``credit/…`` for the office (and residents' cases), ``me/credit/``."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("credit/records", api.RecordViewSet, basename="api-credit-record")
router.register("credit/objections", api.ObjectionViewSet, basename="api-credit-objection")
router.register("credit/repairs", api.RepairViewSet, basename="api-credit-repair")
router.register(
    "credit/ledger/checkpoints", api.LedgerCheckpointViewSet, basename="api-credit-checkpoint"
)
router.register("me/credit", api.MyCreditViewSet, basename="api-my-credit")

urlpatterns = [
    path("credit/ledger/verify/", api.LedgerVerifyView.as_view(), name="api-credit-ledger-verify"),
    path(
        "credit/files/<int:pk>/",
        api.AttachmentDownloadView.as_view(),
        name="api-credit-file",
    ),
    *router.urls,
]
