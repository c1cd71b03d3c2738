from rest_framework.routers import SimpleRouter

from .api import MatterViewSet, PledgeViewSet

router = SimpleRouter()
router.register("matters", MatterViewSet, basename="api-matter")
router.register("pledges", PledgeViewSet, basename="api-pledge")

urlpatterns = router.urls
