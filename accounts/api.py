"""Sign-in for API clients (a token; staff add a second-factor code), a person's own data,
and the audit log for the city-wide auditor."""

from django.contrib.auth import authenticate
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.audit import audit_record
from core.middleware import client_ip

from . import export, id_numbers, roles, two_factor
from .audit_views import export_response, filters_for_log
from .selectors import audit_events_filtered
from .throttle import login_blocked, login_failed


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    otp = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="Staff only: the 6-digit code of the authenticator app, or a recovery code.",
    )


def _refusal(code: str, message: str, *, field: str | None = None, http=400, headers=None):
    body = {"code": code, "detail": message}
    if field:
        body[field] = [message]
    return Response(body, status=http, headers=headers)


class TokenView(APIView):
    """``POST {"username","password"[,"otp"]}`` → ``{"token"}``.

    Staff accounts need ``otp``: a code of their authenticator (or a recovery code); residents
    need none. Wrong passwords and wrong codes count together towards the limit per username
    and IP (5 per 15 minutes).
    """

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
            return _refusal(
                "throttled",
                _("Too many failed sign-ins. Try again later."),
                http=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": "900"},
            )
        # A failure is recorded in the audit log by the user_login_failed handler.
        user = authenticate(
            request, username=username, password=serializer.validated_data["password"]
        )
        if user is None:
            login_failed(username, ip)
            return _refusal(
                "invalid_credentials",
                _("Wrong username or password."),
                field="non_field_errors",
            )
        factor = ""
        if two_factor.requires_two_factor(user):
            if not two_factor.has_authenticator(user):
                audit_record(actor=None, action="auth.no_second_factor", obj=user)
                return _refusal(
                    "second_factor_not_set_up",
                    _("This staff account has no authenticator yet. Contact the administrator."),
                    http=status.HTTP_403_FORBIDDEN,
                )
            code = serializer.validated_data.get("otp", "")
            if not code:
                return _refusal(
                    "otp_required",
                    _("Staff accounts need the code of their authenticator app."),
                    field="otp",
                )
            device = two_factor.second_factor_verify(user, code)
            if device is None:
                login_failed(username, ip)
                audit_record(
                    actor=None, action="auth.otp_failed", obj=user, data={"username": username}
                )
                return _refusal(
                    "invalid_otp", _("The code is wrong or was already used."), field="otp"
                )
            factor = two_factor.factor_kind(device)
        token, _created = Token.objects.get_or_create(user=user)
        audit_record(
            actor=user, action="auth.token_issued", obj=user, data={"second_factor": factor}
        )
        return Response({"token": token.key})


class MyDataView(APIView):
    """``GET /api/v1/me/data/``: everything held about the caller (``?file_format=pdf``: PDF).

    (``format`` is DRF's own renderer switch, hence ``file_format``.)
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("file_format", str, enum=["json", "pdf"], required=False)],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "application/pdf"): OpenApiTypes.BINARY,
        },
    )
    def get(self, request):
        data = export.personal_data(request.user)
        fmt = "pdf" if request.query_params.get("file_format") == "pdf" else "json"
        person = request.user.person
        audit_record(
            actor=request.user,
            action="privacy.exported",
            obj=request.user,
            person_hash=person.id_hash if person else "",
            data={"format": fmt, "sections": sorted(data["sections"]), "channel": "api"},
        )
        if fmt == "pdf":
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
            response = HttpResponse(
                export.as_pdf(data, user=request.user), content_type="application/pdf"
            )
            response["Content-Disposition"] = f'attachment; filename="my-data-{stamp}.pdf"'
            return response
        return Response(data)


class IsAuditor(BasePermission):
    def has_permission(self, request, view):
        return roles.has_role(request.user, roles.OVERSIGHT_OFFICER)


class AuditQuerySerializer(serializers.Serializer):
    person = serializers.CharField(required=False, allow_blank=True, max_length=18)
    staff = serializers.CharField(required=False, allow_blank=True, max_length=150)
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)
    file_format = serializers.ChoiceField(choices=["json", "csv"], required=False, default="json")

    def validate_person(self, value):
        if not value:
            return ""
        try:
            return id_numbers.validate(value)
        except id_numbers.InvalidIdNumber as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["until"] < attrs["since"]:
            raise serializers.ValidationError({"until": _("The period ends before it starts.")})
        return attrs


class AuditEventSerializer(serializers.Serializer):
    """One event of the JSON export (``core.audit_export.event_row``); the CSV has the same
    columns."""

    id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    actor_username = serializers.CharField()
    actor_unit = serializers.CharField()
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    person_hash = serializers.CharField()
    ip = serializers.CharField()
    user_agent = serializers.CharField()
    data = serializers.JSONField()


class AuditExportView(APIView):
    """``GET /api/v1/audit/events/?person=&staff=&since=&until=&file_format=json|csv``: the
    audit log as a download, for the city-wide auditor (``oversight_officer``)."""

    permission_classes = [IsAuthenticated, IsAuditor]

    @extend_schema(
        parameters=[AuditQuerySerializer],
        responses={
            (200, "application/json"): AuditEventSerializer(many=True),
            (200, "text/csv"): OpenApiTypes.BINARY,
        },
    )
    def get(self, request):
        query = AuditQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        cleaned = query.validated_data
        events = audit_events_filtered(
            person_id_number=cleaned.get("person", ""),
            staff_username=cleaned.get("staff", ""),
            since=cleaned.get("since"),
            until=cleaned.get("until"),
        )
        fmt = cleaned["file_format"]
        audit_record(
            actor=request.user,
            action="audit.exported",
            data={**filters_for_log(cleaned), "format": fmt, "channel": "api"},
        )
        return export_response(events, fmt)
