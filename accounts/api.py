"""Sign-in for API clients: a token for username and password."""

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.audit import audit_record
from core.middleware import client_ip

from .throttle import login_blocked, login_failed


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenView(APIView):
    """``POST {"username","password"}`` → ``{"token"}``; failures limited per username and IP."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
    )
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["username"]
        ip = client_ip(request)
        if login_blocked(username, ip):
            audit_record(actor=None, action="auth.locked_out", data={"username": username})
            return Response(
                {"code": "throttled", "detail": _("Too many failed sign-ins. Try again later.")},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": "900"},
            )
        user = authenticate(
            request, username=username, password=serializer.validated_data["password"]
        )
        if user is None:
            login_failed(username, ip)
            audit_record(actor=None, action="auth.failed", data={"username": username})
            return Response(
                {
                    "code": "invalid_credentials",
                    "detail": _("Wrong username or password."),
                    "non_field_errors": [_("Wrong username or password.")],
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        token, _created = Token.objects.get_or_create(user=user)
        audit_record(actor=user, action="auth.token_issued", obj=user)
        return Response({"token": token.key})
