"""``POST /api/v1/pledges/{number}/revocation/``: a window clerk records a revocation.

Kept apart from ``api.py``; ``api_urls.py`` adds ``urlpatterns`` below to its own.
"""

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roles
from core.errors import NotAllowed

from . import lifecycle, selectors
from .api import PledgeSerializer


class RevocationSerializer(serializers.Serializer):
    note = serializers.CharField(
        max_length=500, help_text="What was revoked (the decision, the licence) and on what basis."
    )


class RevokedPledgeSerializer(PledgeSerializer):
    revoked_by = serializers.CharField(source="revoked_by.username", default="")

    class Meta(PledgeSerializer.Meta):
        fields = PledgeSerializer.Meta.fields + ["revoked_at", "revoked_by", "revocation_note"]


class PledgeRevocationView(APIView):
    """Record the revocation of a pledge found false or breached (``revocation_pending``)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=RevocationSerializer, responses=RevokedPledgeSerializer)
    def post(self, request, number):
        if not roles.has_role(request.user, roles.WINDOW_CLERK):
            raise NotAllowed(_("Only a window clerk records a revocation."))
        pledge = selectors.pledge_for(request.user, number)
        if pledge is None:
            raise NotFound()
        serializer = RevocationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pledge = lifecycle.pledge_revoke(
            pledge=pledge, actor=request.user, note=serializer.validated_data["note"]
        )
        return Response(RevokedPledgeSerializer(pledge, context={"request": request}).data)


urlpatterns = [
    path(
        "pledges/<str:number>/revocation/",
        PledgeRevocationView.as_view(),
        name="api-pledge-revocation",
    ),
]
