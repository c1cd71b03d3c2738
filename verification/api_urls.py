"""Routes under ``/api/v1/verification/``."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import DrawViewSet, EvidenceFileView, PlanViewSet, TaskViewSet

router = SimpleRouter()
router.register("plans", PlanViewSet, basename="api-verification-plan")
router.register("draws", DrawViewSet, basename="api-verification-draw")
router.register("tasks", TaskViewSet, basename="api-verification-task")

urlpatterns = [
    path("evidence/<int:pk>/file/", EvidenceFileView.as_view(), name="api-verification-evidence"),
    *router.urls,
]
