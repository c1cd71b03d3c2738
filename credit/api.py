"""The credit API. Thin: validate, call one service or selector, serialise.

Only credit officers read other people's records; a resident reads only their own. Every
staff read of a record's detail needs ``?reason=`` and is logged.
"""

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import id_numbers, roles
from core.api import idempotent
from core.audit import audit_record

from . import ledger, selectors, services
from .models import (
    Attachment,
    CreditRecord,
    Objection,
    RecordKind,
    RecordState,
    RepairApplication,
    Severity,
    mask_name,
)


class IsCreditOfficer(BasePermission):
    def has_permission(self, request, view):
        return roles.has_role(request.user, roles.CREDIT_OFFICER)


def _is_officer(user) -> bool:
    return roles.has_role(user, roles.CREDIT_OFFICER)


def _files(request) -> list:
    return request.FILES.getlist("files") if hasattr(request, "FILES") else []


# ---- serializers ------------------------------------------------------------------------


class CreditAttachmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name")
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "name", "content_type", "size", "sha256", "uploaded_at", "url"]

    def get_url(self, attachment) -> str:
        return f"/api/v1/credit/files/{attachment.pk}/"


class CreditStatementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    files = CreditAttachmentSerializer(source="attachments.all", many=True)


class CreditObjectionSerializer(serializers.ModelSerializer):
    files = CreditAttachmentSerializer(source="attachments.all", many=True, read_only=True)
    record_state = serializers.CharField(source="record.state", read_only=True)

    class Meta:
        model = Objection
        fields = [
            "id",
            "record",
            "record_state",
            "reasons",
            "status",
            "outcome",
            "filed_at",
            "due_on",
            "overdue",
            "decided_at",
            "decision_reason",
            "files",
        ]


class CreditRepairSerializer(serializers.ModelSerializer):
    files = CreditAttachmentSerializer(source="attachments.all", many=True, read_only=True)
    record_state = serializers.CharField(source="record.state", read_only=True)

    class Meta:
        model = RepairApplication
        fields = [
            "id",
            "record",
            "record_state",
            "credit_pledge",
            "correction",
            "status",
            "applied_at",
            "due_on",
            "overdue",
            "decided_at",
            "decision_reason",
            "files",
        ]


RECORD_FIELDS = [
    "id",
    "kind",
    "kind_display",
    "state",
    "state_display",
    "severity",
    "matter_name",
    "pledge_number",
    "created_at",
    "hearing_deadline",
    "decided_on",
    "legal_basis",
    "published",
    "publication_starts_on",
    "repair_possible_on",
    "publication_ends_on",
]


class CreditRecordListSerializer(serializers.ModelSerializer):
    """A row of the office's list: name and ID number masked (no reason asked for lists)."""

    kind_display = serializers.CharField(source="get_kind_display")
    state_display = serializers.CharField(source="get_state_display")
    person_name = serializers.SerializerMethodField()
    id_masked = serializers.CharField(source="person.id_masked")
    statement_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = CreditRecord
        fields = RECORD_FIELDS + ["person_name", "id_masked", "statement_count"]

    def get_person_name(self, record) -> str:
        return mask_name(record.person.name)


class CreditAccessEntrySerializer(serializers.Serializer):
    viewed_at = serializers.DateTimeField()
    actor_name = serializers.CharField()
    actor_unit = serializers.CharField()
    reason = serializers.CharField()


class CreditRecordDetailSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display")
    state_display = serializers.CharField(source="get_state_display")
    person = serializers.SerializerMethodField()
    statements = CreditStatementSerializer(many=True, read_only=True)
    objections = CreditObjectionSerializer(many=True, read_only=True)
    repairs = CreditRepairSerializer(many=True, read_only=True)
    events = serializers.SerializerMethodField()
    access_log = serializers.SerializerMethodField()

    class Meta:
        model = CreditRecord
        fields = RECORD_FIELDS + [
            "person",
            "facts",
            "annul_reason",
            "statements",
            "objections",
            "repairs",
            "events",
            "access_log",
        ]

    def get_person(self, record) -> dict:
        return {"name": record.person.name, "id_masked": record.person.id_masked}

    def get_events(self, record) -> list[dict]:
        return ledger.events_for(record)

    def get_access_log(self, record) -> list[dict]:
        return CreditAccessEntrySerializer(selectors.access_log_of(record), many=True).data


class CreditDecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["confirm", "annul"])
    severity = serializers.ChoiceField(choices=Severity.choices, required=False, allow_blank=True)
    basis = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class CreditObjectionCreateSerializer(serializers.Serializer):
    record = serializers.IntegerField()
    reasons = serializers.CharField(max_length=5000)


class CreditObjectionDecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["upheld", "rejected"])
    reason = serializers.CharField(max_length=5000)
    outcome = serializers.ChoiceField(
        choices=Objection.Outcome.choices, required=False, allow_blank=True
    )
    severity = serializers.ChoiceField(choices=Severity.choices, required=False, allow_blank=True)
    basis = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class CreditRepairCreateSerializer(serializers.Serializer):
    record = serializers.IntegerField()
    credit_pledge = serializers.CharField(max_length=5000)
    correction = serializers.CharField(max_length=5000)


class CreditRepairDecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["approved", "rejected"])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class CreditStatementCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000)


UPLOAD_PARSERS = [JSONParser, MultiPartParser, FormParser]

NO_SUCH_RECORD = OpenApiResponse(description="No such credit record of yours.")


# ---- the credit office ------------------------------------------------------------------


class RecordViewSet(viewsets.ReadOnlyModelViewSet):
    """Credit records, for credit officers only. Detail needs ``?reason=`` and is logged."""

    permission_classes = [IsCreditOfficer]
    serializer_class = CreditRecordListSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        params = self.request.query_params
        status_ = params.get("status", "")
        severity = params.get("severity", "")
        kind = params.get("kind", "")
        id_number = params.get("id_number", "")
        errors = {}
        if status_ and status_ not in RecordState.values:
            errors["status"] = [_("Unknown state.")]
        if severity and severity not in Severity.values:
            errors["severity"] = [_("Unknown severity.")]
        if kind and kind not in RecordKind.values:
            errors["kind"] = [_("Unknown kind.")]
        if id_number:
            try:
                id_number = id_numbers.validate(id_number)
            except id_numbers.InvalidIdNumber as exc:
                errors["id_number"] = [str(exc)]
        if errors:
            raise ValidationError(errors)
        return selectors.record_list(
            status=status_, severity=severity, kind=kind, id_number=id_number
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=RecordState.values),
            OpenApiParameter("severity", str, enum=Severity.values),
            OpenApiParameter("kind", str, enum=RecordKind.values),
            OpenApiParameter("id_number", str, description="found through the keyed hash"),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        parameters=[OpenApiParameter("reason", str, required=True)],
        responses=CreditRecordDetailSerializer,
    )
    def retrieve(self, request, pk=None):
        record = get_object_or_404(CreditRecord.objects.select_related("person"), pk=pk)
        services.record_view(record=record, actor=request.user, reason=request.GET.get("reason"))
        return Response(CreditRecordDetailSerializer(record).data)

    @extend_schema(request=CreditDecisionSerializer, responses=CreditRecordListSerializer)
    @action(detail=True, methods=["post"], url_path="decisions")
    @idempotent
    def decisions(self, request, pk=None):
        serializer = CreditDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = get_object_or_404(CreditRecord, pk=pk)
        data = serializer.validated_data
        record = services.record_decide(
            record=record,
            actor=request.user,
            decision=data["decision"],
            severity=data.get("severity", ""),
            basis=data.get("basis", ""),
            reason=data.get("reason", ""),
        )
        return Response(CreditRecordListSerializer(record).data)


class _CaseViewSet(viewsets.GenericViewSet):
    """Objections and repair applications: residents file and see their own, officers all."""

    permission_classes = [IsAuthenticated]
    parser_classes = UPLOAD_PARSERS
    lookup_value_regex = r"\d+"

    def _check_reader(self):
        user = self.request.user
        if not _is_officer(user) and not getattr(user, "person_id", None):
            raise PermissionDenied(_("Only the credit office and residents have credit cases."))

    def _check_filer(self):
        user = self.request.user
        if not roles.has_role(user, roles.RESIDENT) or not user.person_id:
            raise PermissionDenied(_("Only residents file for their own records."))

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.list_selector()
        self._check_reader()
        user = self.request.user
        person = None if _is_officer(user) else user.person
        return self.list_selector(person=person, status=self.request.query_params.get("status", ""))

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(get_object_or_404(self.get_queryset(), pk=pk)).data)


class ObjectionViewSet(_CaseViewSet):
    serializer_class = CreditObjectionSerializer

    def list_selector(self, **kwargs):
        return selectors.objection_list(**kwargs)

    @extend_schema(
        request=CreditObjectionCreateSerializer,
        responses={201: CreditObjectionSerializer, 404: NO_SUCH_RECORD},
    )
    @idempotent
    def create(self, request):
        self._check_filer()
        serializer = CreditObjectionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        objection = services.objection_file(
            record=serializer.validated_data["record"],
            actor=request.user,
            reasons=serializer.validated_data["reasons"],
            files=_files(request),
        )
        return Response(CreditObjectionSerializer(objection).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CreditObjectionDecisionSerializer, responses=CreditObjectionSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsCreditOfficer])
    @idempotent
    def decision(self, request, pk=None):
        serializer = CreditObjectionDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        objection = get_object_or_404(Objection, pk=pk)
        data = serializer.validated_data
        objection = services.objection_decide(
            objection=objection,
            actor=request.user,
            decision=data["decision"],
            reason=data["reason"],
            outcome=data.get("outcome", ""),
            severity=data.get("severity", ""),
            basis=data.get("basis", ""),
        )
        return Response(CreditObjectionSerializer(objection).data)


class RepairViewSet(_CaseViewSet):
    serializer_class = CreditRepairSerializer

    def list_selector(self, **kwargs):
        return selectors.repair_list(**kwargs)

    @extend_schema(
        request=CreditRepairCreateSerializer,
        responses={201: CreditRepairSerializer, 404: NO_SUCH_RECORD},
    )
    @idempotent
    def create(self, request):
        self._check_filer()
        serializer = CreditRepairCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        repair = services.repair_apply(
            record=data["record"],
            actor=request.user,
            credit_pledge=data["credit_pledge"],
            correction=data["correction"],
            files=_files(request),
        )
        return Response(CreditRepairSerializer(repair).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CreditRepairDecisionSerializer, responses=CreditRepairSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsCreditOfficer])
    @idempotent
    def decision(self, request, pk=None):
        serializer = CreditRepairDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        repair = get_object_or_404(RepairApplication, pk=pk)
        repair = services.repair_decide(
            repair=repair,
            actor=request.user,
            decision=serializer.validated_data["decision"],
            reason=serializer.validated_data.get("reason", ""),
        )
        return Response(CreditRepairSerializer(repair).data)


class CreditVerifyResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    checked = serializers.IntegerField()
    head_seq = serializers.IntegerField()
    first_bad_seq = serializers.IntegerField(allow_null=True)
    problem = serializers.CharField()


class LedgerVerifyView(APIView):
    """Verify the ledger now (credit officers): ``ok`` and, if not, the first bad sequence."""

    permission_classes = [IsCreditOfficer]

    @extend_schema(responses=CreditVerifyResultSerializer)
    def get(self, request):
        result = ledger.verify()
        audit_record(actor=request.user, action="credit.ledger_verified", data=result.as_dict())
        return Response(result.as_dict())


class CreditCheckpointSerializer(serializers.Serializer):
    day = serializers.DateField()
    seq = serializers.IntegerField()
    hash = serializers.CharField()
    mac = serializers.CharField()


class LedgerCheckpointViewSet(viewsets.ReadOnlyModelViewSet):
    """The daily signed heads of the ledger, public."""

    permission_classes = [AllowAny]
    serializer_class = CreditCheckpointSerializer
    queryset = selectors.checkpoints()
    lookup_field = "day"
    lookup_value_regex = r"\d{4}-\d{2}-\d{2}"


# ---- the resident -----------------------------------------------------------------------


class MyCreditViewSet(viewsets.ReadOnlyModelViewSet):
    """The signed-in person's own records, with who looked at them; statements in hearings."""

    permission_classes = [IsAuthenticated]
    serializer_class = CreditRecordDetailSerializer
    parser_classes = UPLOAD_PARSERS
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return selectors.records_of(getattr(self.request.user, "person", None)).select_related(
            "person"
        )

    @extend_schema(
        request=CreditStatementCreateSerializer, responses={201: CreditStatementSerializer}
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def statement(self, request, pk=None):
        serializer = CreditStatementCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not request.user.person_id:
            raise NotFound()
        statement = services.statement_submit(
            record=pk,
            actor=request.user,
            text=serializer.validated_data["text"],
            files=_files(request),
        )
        return Response(CreditStatementSerializer(statement).data, status=status.HTTP_201_CREATED)


class AttachmentDownloadView(APIView):
    """A file of a statement, objection or repair: to its person and to credit officers only."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={
            # The type sniffed at upload: by default a PDF, PNG or JPEG (``conf.upload_types``).
            (200, media_type): OpenApiTypes.BINARY
            for media_type in ("application/pdf", "image/png", "image/jpeg")
        }
    )
    def get(self, request, pk):
        attachment = get_object_or_404(Attachment.objects.select_related("record__person"), pk=pk)
        user = request.user
        officer = _is_officer(user)
        if not officer and attachment.record.person_id != getattr(user, "person_id", None):
            raise NotFound()
        if officer:
            audit_record(
                actor=user,
                action="credit.file_downloaded",
                obj=attachment,
                person_hash=attachment.record.person.id_hash,
            )
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.original_name,
            content_type=attachment.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response
