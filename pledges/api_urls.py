from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import MatterViewSet, PledgeViewSet
from .lifecycle_api import urlpatterns as lifecycle_urls
from .print_api import BlankFormView, PledgePdfView

router = SimpleRouter()
router.register("matters", MatterViewSet, basename="api-matter")
router.register("pledges", PledgeViewSet, basename="api-pledge")

urlpatterns = [
    path("pledges/<str:number>/pdf/", PledgePdfView.as_view(), name="api-pledge-pdf"),
    path("matters/<str:code>/blank-form/", BlankFormView.as_view(), name="api-matter-blank-form"),
    *lifecycle_urls,
    *router.urls,
]
