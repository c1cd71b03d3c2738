"""The oversight API: guides (public read), catalog lists, complaints, quarterly reports.

Thin: validate, call one service, serialise. Files come back as plain downloads.
"""

from __future__ import annotations

from django.core.files.storage import storages
from django.http import FileResponse, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roles
from accounts.models import Unit
from core.api import idempotent
from core.audit import audit_record
from core.errors import DomainError, NotAllowed
from core.middleware import client_ip
from pledges.models import Disposition

from . import progress, quarters, ratelimit, reports, selectors, services, xlsx
from .models import CatalogList, Complaint, ComplaintChannel, ComplaintStatus, ServiceGuide


def _file(content: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---- service guides --------------------------------------------------------------------


class GuideMaterialSerializer(serializers.Serializer):
    name = serializers.CharField()
    form = serializers.CharField()
    form_display = serializers.CharField(source="get_form_display")
    copies = serializers.IntegerField()
    source = serializers.CharField()
    pledge_replaceable = serializers.BooleanField()
    note = serializers.CharField()
    blank_form_url = serializers.SerializerMethodField()
    sample_form_url = serializers.SerializerMethodField()

    def _url(self, material, kind) -> str | None:
        field = material.blank_form if kind == "blank" else material.sample_form
        if not field:
            return None
        path = f"/guides/{material.guide.matter.code}/materials/{material.pk}/{kind}/"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_blank_form_url(self, material) -> str | None:
        return self._url(material, "blank")

    def get_sample_form_url(self, material) -> str | None:
        return self._url(material, "sample")


class GuideQuestionSerializer(serializers.Serializer):
    question = serializers.CharField()
    answer = serializers.CharField()


class GuideSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="matter.code")
    name = serializers.CharField(source="matter.name")
    department = serializers.CharField(source="matter.department.name")
    department_code = serializers.CharField(source="matter.department.code")
    certificate = serializers.CharField(source="matter.certificate")
    disposition = serializers.CharField(source="matter.disposition")
    disposition_display = serializers.CharField(source="matter.get_disposition_display")
    guide_type_display = serializers.CharField(source="get_guide_type_display")
    legal_basis = serializers.CharField(source="effective_legal_basis")
    where_instead = serializers.CharField(source="matter.where_instead")
    pledgeable = serializers.SerializerMethodField()
    sign_url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = ServiceGuide
        fields = [
            "code",
            "name",
            "department",
            "department_code",
            "certificate",
            "disposition",
            "disposition_display",
            "guide_type",
            "guide_type_display",
            "office",
            "window",
            "legal_basis",
            "where_instead",
            "pledgeable",
            "sign_url",
            "page_url",
            "pdf_url",
            "published_at",
        ]

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_pledgeable(self, guide) -> bool:
        return selectors.guide_sign_path(guide) is not None

    def get_sign_url(self, guide) -> str | None:
        path = selectors.guide_sign_path(guide)
        return self._absolute(path) if path else None

    def get_page_url(self, guide) -> str:
        return self._absolute(f"/guides/{guide.matter.code}/")

    def get_pdf_url(self, guide) -> str:
        return self._absolute(f"/guides/{guide.matter.code}/pdf/")


class GuideDetailSerializer(GuideSerializer):
    conditions = serializers.ListField(source="condition_list", child=serializers.CharField())
    steps = serializers.ListField(source="step_list", child=serializers.CharField())
    materials = GuideMaterialSerializer(many=True)
    faq = GuideQuestionSerializer(source="questions", many=True)

    class Meta(GuideSerializer.Meta):
        fields = GuideSerializer.Meta.fields + [
            "who_may_apply",
            "conditions",
            "materials",
            "steps",
            "statutory_days",
            "promised_days",
            "fee",
            "result",
            "delivery",
            "place",
            "hours",
            "enquiry_phone",
            "complaint_phone",
            "online_url",
            "visits",
            "faq",
        ]


class GuideViewSet(viewsets.ReadOnlyModelViewSet):
    """Published service guides (办事指南), one per catalog matter. Public."""

    permission_classes = [AllowAny]
    lookup_field = "code"
    lookup_value_regex = r"[A-Za-z0-9_.\-]+"
    filter_backends = []

    def get_queryset(self):
        params = self.request.query_params
        disposition = params.get("disposition", "")
        if disposition and disposition not in Disposition.values:
            disposition = "__none__"
        return selectors.guide_list(
            search=params.get("search", "")[:100],
            disposition=disposition,
            department=params.get("department", "")[:32],
        )

    def get_serializer_class(self):
        return GuideDetailSerializer if self.action == "retrieve" else GuideSerializer

    def get_object(self):
        guide = selectors.guide_for(self.kwargs["code"])
        if guide is None:
            raise NotFound()
        return guide

    @extend_schema(
        parameters=[
            OpenApiParameter("search", str),
            OpenApiParameter("disposition", str, enum=Disposition.values),
            OpenApiParameter("department", str),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


# ---- catalog lists ---------------------------------------------------------------------


class CatalogListSerializer(serializers.ModelSerializer):
    unit = serializers.CharField(source="unit.code")
    unit_name = serializers.CharField(source="unit.name")
    status_display = serializers.CharField(source="get_status_display")
    progress = serializers.SerializerMethodField()
    errors_url = serializers.SerializerMethodField()

    class Meta:
        model = CatalogList
        fields = [
            "id",
            "unit",
            "unit_name",
            "file_name",
            "file_sha256",
            "status",
            "status_display",
            "row_count",
            "error_count",
            "refusal",
            "progress",
            "errors_url",
            "created_at",
            "imported_at",
            "decided_at",
            "decision_note",
            "merge_summary",
        ]

    def get_progress(self, catalog_list) -> dict | None:
        return progress.snapshot(catalog_list.job) if catalog_list.job else None

    def get_errors_url(self, catalog_list) -> str | None:
        if catalog_list.status != CatalogList.Status.REFUSED:
            return None
        path = f"/api/v1/catalog-lists/{catalog_list.pk}/errors/"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class CatalogListUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class CatalogListNoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class CatalogListViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Catalog lists (清单) handed in by towns, streets and departments; merged by the bureau."""

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    serializer_class = CatalogListSerializer
    filter_backends = []

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not roles.has_role(request.user, roles.LIST_SUBMITTER, roles.OVERSIGHT_OFFICER):
            raise NotAllowed(_("Only list submitters and the bureau use catalog lists."))

    def get_queryset(self):
        return selectors.lists_visible_to(self.request.user)

    def get_object(self):
        catalog_list = selectors.list_for(self.request.user, self.kwargs["pk"])
        if catalog_list is None:
            raise NotFound()
        return catalog_list

    @extend_schema(
        request={"multipart/form-data": CatalogListUploadSerializer},
        responses={201: CatalogListSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        serializer = CatalogListUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        catalog_list = services.catalog_list_submit(
            actor=request.user, upload=serializer.validated_data["file"]
        )
        catalog_list.refresh_from_db()
        body = CatalogListSerializer(catalog_list, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("download", str, enum=["xlsx", "csv"])],
        responses={
            (200, "application/json"): inline_serializer(
                "ListErrors",
                {
                    "count": serializers.IntegerField(),
                    "errors": serializers.ListField(child=serializers.DictField()),
                },
            ),
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, xlsx.XLSX_CONTENT_TYPE): OpenApiTypes.BINARY,
        },
    )
    @action(detail=True, methods=["get"])
    def errors(self, request, pk=None):
        catalog_list = self.get_object()
        errors = selectors.list_errors(catalog_list)
        download = request.query_params.get("download", "")
        if download == "csv":
            return _file(
                xlsx.errors_csv(errors), f"list-{pk}-errors.csv", "text/csv; charset=utf-8"
            )
        if download == "xlsx":
            return _file(
                xlsx.errors_bytes(errors), f"list-{pk}-errors.xlsx", xlsx.XLSX_CONTENT_TYPE
            )
        return Response({"count": catalog_list.error_count, "errors": errors})

    @extend_schema(responses=inline_serializer("ListDiff", {"counts": serializers.DictField()}))
    @action(detail=True, methods=["get"])
    def diff(self, request, pk=None):
        catalog_list = self.get_object()
        if catalog_list.status != CatalogList.Status.IMPORTED:
            raise DomainError(
                _("Only an imported list awaiting the bureau has a diff."), code="invalid_state"
            )
        diff = selectors.catalog_list_diff(catalog_list)
        return Response({key: diff[key] for key in ("counts", "new", "changed", "conflicts")})

    @extend_schema(request=CatalogListNoteSerializer, responses=CatalogListSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        serializer = CatalogListNoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        catalog_list = services.catalog_list_merge(
            catalog_list=self.get_object(),
            actor=request.user,
            note=serializer.validated_data.get("note", ""),
        )
        return Response(CatalogListSerializer(catalog_list, context={"request": request}).data)

    @extend_schema(request=CatalogListNoteSerializer, responses=CatalogListSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        serializer = CatalogListNoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        catalog_list = services.catalog_list_reject(
            catalog_list=self.get_object(),
            actor=request.user,
            note=serializer.validated_data.get("note", ""),
        )
        return Response(CatalogListSerializer(catalog_list, context={"request": request}).data)

    @extend_schema(responses={(200, xlsx.XLSX_CONTENT_TYPE): bytes})
    @action(detail=False, methods=["get"])
    def template(self, request):
        from accounts import selectors as accounts_selectors

        unit = request.user.unit
        content = xlsx.template_bytes(
            unit_name=unit.name if unit else "",
            department_codes=accounts_selectors.departments().values_list("code", "name"),
        )
        return _file(content, "list-template.xlsx", xlsx.XLSX_CONTENT_TYPE)

    @extend_schema(
        parameters=[
            OpenApiParameter("download", str, enum=["xlsx", "pdf"]),
            OpenApiParameter("department", str),
        ],
        responses={(200, xlsx.XLSX_CONTENT_TYPE): bytes, (200, "application/pdf"): bytes},
    )
    @action(detail=False, methods=["get"])
    def export(self, request):
        """The city's catalog as a list (XLSX, importable again) or as a printable PDF."""
        from .views import catalog_export_response

        fmt = request.query_params.get("download", "xlsx")
        if fmt not in ("xlsx", "pdf"):
            raise DomainError(_("Download xlsx or pdf."), field="download")
        return catalog_export_response(fmt, department=request.query_params.get("department", ""))


# ---- complaints ------------------------------------------------------------------------


class ComplaintCreateSerializer(serializers.Serializer):
    agency = serializers.CharField(max_length=200)
    certificate = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000)
    occurred_on = serializers.DateField()
    place = serializers.CharField(max_length=200, required=False, allow_blank=True)
    contact = serializers.CharField(max_length=200, required=False, allow_blank=True)
    channel = serializers.ChoiceField(choices=ComplaintChannel.choices, required=False)
    website = serializers.CharField(
        required=False, allow_blank=True, help_text="Leave empty (a trap for robots)."
    )
    attachments = serializers.ListField(
        child=serializers.FileField(), required=False, allow_empty=True
    )


class ComplaintCreatedSerializer(serializers.Serializer):
    tracking_number = serializers.CharField()
    token = serializers.CharField()
    status = serializers.CharField()
    track_url = serializers.CharField()


class ComplaintPublicSerializer(serializers.ModelSerializer):
    """What the person who complained sees with their token: no staff notes, no contact."""

    status_display = serializers.CharField(source="get_status_display")
    events = serializers.SerializerMethodField()

    class Meta:
        model = Complaint
        fields = [
            "tracking_number",
            "channel",
            "status",
            "status_display",
            "agency",
            "certificate",
            "description",
            "occurred_on",
            "place",
            "received_at",
            "superior_name",
            "correction_deadline",
            "answer",
            "correction",
            "outcome",
            "closed_at",
            "events",
        ]

    def get_events(self, complaint) -> list[dict]:
        return [
            {"at": e.at, "kind": e.kind, "status": e.status, "note": e.note}
            for e in selectors.public_events(complaint)
        ]


class ComplaintAttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    original_name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()


class ComplaintStaffSerializer(ComplaintPublicSerializer):
    contact = serializers.CharField()
    superior = serializers.CharField(source="superior.code", default=None, allow_null=True)
    matter = serializers.CharField(source="matter.code", default=None, allow_null=True)
    attachments = ComplaintAttachmentSerializer(many=True)
    overdue = serializers.BooleanField(source="is_overdue")
    published = serializers.BooleanField(source="is_published")

    class Meta(ComplaintPublicSerializer.Meta):
        fields = ComplaintPublicSerializer.Meta.fields + [
            "contact",
            "superior",
            "matter",
            "triage_note",
            "forwarded_at",
            "answered_at",
            "corrected_at",
            "overdue_since",
            "overdue",
            "published",
            "published_at",
            "public_summary",
            "attachments",
        ]

    def get_events(self, complaint) -> list[dict]:
        return [
            {
                "at": e.at,
                "kind": e.kind,
                "status": e.status,
                "note": e.note,
                "public": e.public,
                "actor": e.actor.get_username() if e.actor else None,
            }
            for e in complaint.events.select_related("actor")
        ]


class ComplaintListSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display")
    overdue = serializers.BooleanField(source="is_overdue")

    class Meta:
        model = Complaint
        fields = [
            "tracking_number",
            "channel",
            "status",
            "status_display",
            "agency",
            "certificate",
            "occurred_on",
            "received_at",
            "superior_name",
            "correction_deadline",
            "overdue",
        ]


class ComplaintNoticeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Complaint
        fields = ["tracking_number", "agency", "certificate", "public_summary", "published_at"]


class ComplaintTriageSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "dismiss"])
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ComplaintForwardSerializer(serializers.Serializer):
    superior = serializers.CharField(max_length=32, required=False, allow_blank=True)
    superior_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    working_days = serializers.IntegerField(min_value=1, max_value=60, required=False)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True)

    def validate_superior(self, value):
        if not value:
            return None
        unit = Unit.objects.filter(code=value).first()
        if unit is None:
            raise serializers.ValidationError(_("Unknown unit."))
        return unit


class ComplaintAnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=5000)
    correction = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class ComplaintCloseSerializer(serializers.Serializer):
    outcome = serializers.CharField(max_length=500)


class ComplaintPublishSerializer(serializers.Serializer):
    summary = serializers.CharField(max_length=4000)


class ComplaintViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Complaints (投诉) about needless certificate demands.

    Anyone may file one (201 with ``tracking_number`` and ``token``) and follow it with the
    token; the bureau's oversight officers handle them.
    """

    lookup_field = "tracking_number"
    lookup_value_regex = r"TS-\d{4}-\d{6}"
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filter_backends = []
    PUBLIC_ACTIONS = ("create", "retrieve", "notices")

    def get_permissions(self):
        if self.action in self.PUBLIC_ACTIONS:
            return [AllowAny()]
        return [IsAuthenticated()]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.action not in self.PUBLIC_ACTIONS and not roles.has_role(
            request.user, roles.OVERSIGHT_OFFICER
        ):
            raise NotAllowed(_("Only the bureau's oversight officers handle complaints."))

    def get_queryset(self):
        params = self.request.query_params
        status_filter = params.get("status", "")
        return selectors.complaints_for_staff(
            self.request.user,
            status=status_filter if status_filter in ComplaintStatus.values else "",
            overdue=True if params.get("overdue") in ("1", "true") else None,
            search=params.get("search", "")[:100],
        )

    def get_serializer_class(self):
        if self.action == "create":
            return ComplaintCreateSerializer
        if self.action == "list":
            return ComplaintListSerializer
        return ComplaintStaffSerializer

    def _staff_object(self) -> Complaint:
        complaint = selectors.complaint_for_staff(self.request.user, self.kwargs["tracking_number"])
        if complaint is None:
            raise NotFound()
        return complaint

    @extend_schema(
        request=ComplaintCreateSerializer,
        responses={201: ComplaintCreatedSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        if not hasattr(request.data, "get"):
            raise DomainError(_("The body must be a JSON object."), field="non_field_errors")
        data = request.data
        if hasattr(data, "getlist"):
            data = data.copy()
            files = request.FILES.getlist("attachments")
            data.pop("attachments", None)
            serializer = ComplaintCreateSerializer(data={**data.dict(), "attachments": files})
        else:
            serializer = ComplaintCreateSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        if values.get("website"):
            raise DomainError(_("Your report could not be accepted."), code="refused")
        channel = values.get("channel") or ComplaintChannel.ONLINE
        if channel == ComplaintChannel.ONLINE and not ratelimit.complaint_allowed(
            client_ip(request)
        ):
            return Response(
                {
                    "code": "throttled",
                    "detail": _("Too many reports from your connection. Please try again later."),
                },
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        complaint = services.complaint_file(
            data=values,
            actor=request.user,
            attachments=values.get("attachments") or [],
            channel=channel,
        )
        token = selectors.complaint_token(complaint)
        return Response(
            {
                "tracking_number": complaint.tracking_number,
                "token": token,
                "status": complaint.status,
                "track_url": request.build_absolute_uri(selectors.complaint_track_path(complaint)),
            },
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        parameters=[OpenApiParameter("token", str, description="The token given at filing.")],
        responses=OpenApiResponse(
            ComplaintPublicSerializer,
            description=(
                "With the token: what the person who complained may see. An oversight officer "
                "without a token gets the staff view, these fields and those of `ComplaintStaff`."
            ),
        ),
    )
    def retrieve(self, request, tracking_number=None):
        token = request.query_params.get("token", "")
        if roles.has_role(request.user, roles.OVERSIGHT_OFFICER) and not token:
            complaint = self._staff_object()
            audit_record(actor=request.user, action="complaint.viewed", obj=complaint)
            return Response(ComplaintStaffSerializer(complaint).data)
        complaint = selectors.complaint_by_token(tracking_number, token)
        if complaint is None:
            raise NotFound()
        return Response(ComplaintPublicSerializer(complaint).data)

    @extend_schema(responses=ComplaintNoticeSerializer(many=True))
    @action(detail=False, methods=["get"])
    def notices(self, request):
        """Cases the bureau published (anonymised)."""
        page = self.paginate_queryset(selectors.published_complaints())
        return self.get_paginated_response(ComplaintNoticeSerializer(page, many=True).data)

    def _act(self, request, serializer_class, run):
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        complaint = run(self._staff_object(), serializer.validated_data)
        return Response(ComplaintStaffSerializer(complaint).data)

    @extend_schema(request=ComplaintTriageSerializer, responses=ComplaintStaffSerializer)
    @action(detail=True, methods=["post"])
    def triage(self, request, tracking_number=None):
        return self._act(
            request,
            ComplaintTriageSerializer,
            lambda c, d: services.complaint_triage(
                complaint=c,
                actor=request.user,
                accept=d["decision"] == "accept",
                note=d.get("note", ""),
            ),
        )

    @extend_schema(request=ComplaintForwardSerializer, responses=ComplaintStaffSerializer)
    @action(detail=True, methods=["post"])
    def forward(self, request, tracking_number=None):
        return self._act(
            request,
            ComplaintForwardSerializer,
            lambda c, d: services.complaint_forward(
                complaint=c,
                actor=request.user,
                superior=d.get("superior"),
                superior_name=d.get("superior_name", ""),
                working_days=d.get("working_days"),
                note=d.get("note", ""),
            ),
        )

    @extend_schema(request=ComplaintAnswerSerializer, responses=ComplaintStaffSerializer)
    @action(detail=True, methods=["post"])
    def answer(self, request, tracking_number=None):
        return self._act(
            request,
            ComplaintAnswerSerializer,
            lambda c, d: services.complaint_record_answer(
                complaint=c,
                actor=request.user,
                answer=d["answer"],
                correction=d.get("correction", ""),
            ),
        )

    @extend_schema(request=ComplaintCloseSerializer, responses=ComplaintStaffSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, tracking_number=None):
        return self._act(
            request,
            ComplaintCloseSerializer,
            lambda c, d: services.complaint_close(
                complaint=c, actor=request.user, outcome=d["outcome"]
            ),
        )

    @extend_schema(request=ComplaintPublishSerializer, responses=ComplaintStaffSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, tracking_number=None):
        return self._act(
            request,
            ComplaintPublishSerializer,
            lambda c, d: services.complaint_publish(
                complaint=c, actor=request.user, summary=d["summary"]
            ),
        )

    @extend_schema(request=None, responses=ComplaintStaffSerializer)
    @action(detail=True, methods=["post"])
    def unpublish(self, request, tracking_number=None):
        complaint = services.complaint_unpublish(complaint=self._staff_object(), actor=request.user)
        return Response(ComplaintStaffSerializer(complaint).data)


# ---- quarterly reports -----------------------------------------------------------------


def _quarter(value: str) -> str:
    if not value:
        return quarters.of(timezone.localdate())
    try:
        return quarters.parse(value)
    except quarters.InvalidQuarter as exc:
        raise DomainError(
            _("Give the quarter as 2026Q4."), field="quarter", code="invalid"
        ) from exc


class StaffOnly(IsAuthenticated):
    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if not roles.is_staff_role(request.user):
            raise NotAllowed(_("The quarterly figures are for staff."))
        return True


class QuarterlyReportView(APIView):
    """The quarter's figures per department, town and matter (季度报送). Staff."""

    permission_classes = [StaffOnly]

    @extend_schema(
        parameters=[OpenApiParameter("quarter", str, description="e.g. 2026Q4; default: now")],
        responses=inline_serializer("QuarterlyFigures", {"quarter": serializers.CharField()}),
    )
    def get(self, request):
        quarter = _quarter(request.query_params.get("quarter", ""))
        body = reports.jsonable(selectors.quarterly_figures(quarter))
        prepared = selectors.prepared_report(quarter)
        body["prepared"] = (
            {
                "prepared_at": prepared.prepared_at.isoformat(),
                "xlsx_url": request.build_absolute_uri(f"/bureau/reports/{quarter}/prepared.xlsx"),
                "pdf_url": request.build_absolute_uri(f"/bureau/reports/{quarter}/prepared.pdf"),
            }
            if prepared
            else None
        )
        return Response(body)


class QuarterlyExportRequestSerializer(serializers.Serializer):
    quarter = serializers.CharField(required=False, allow_blank=True)
    format = serializers.ChoiceField(choices=["xlsx", "pdf"])


class QuarterlyJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    percent = serializers.IntegerField()
    finished = serializers.BooleanField()
    download_url = serializers.CharField(allow_null=True)


def _job_body(request, job) -> dict:
    state = progress.snapshot(job)
    state["download_url"] = (
        request.build_absolute_uri(f"/api/v1/reports/quarterly/jobs/{job.pk}/file/")
        if job.result_file
        else None
    )
    state["status_url"] = request.build_absolute_uri(f"/api/v1/reports/quarterly/jobs/{job.pk}/")
    state["page_url"] = request.build_absolute_uri(f"/bureau/jobs/{job.pk}/")
    return state


class QuarterlyExportView(APIView):
    """Export the quarter's report as XLSX or PDF in the background (oversight officers)."""

    permission_classes = [StaffOnly]

    @extend_schema(
        request=QuarterlyExportRequestSerializer, responses={202: QuarterlyJobSerializer}
    )
    def post(self, request):
        serializer = QuarterlyExportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        quarter = _quarter(serializer.validated_data.get("quarter", ""))
        job = services.report_export_start(
            quarter=quarter, fmt=serializer.validated_data["format"], actor=request.user
        )
        job.refresh_from_db()
        return Response(_job_body(request, job), status=status.HTTP_202_ACCEPTED)


class QuarterlyJobView(APIView):
    permission_classes = [StaffOnly]

    @extend_schema(responses=QuarterlyJobSerializer)
    def get(self, request, pk):
        job = selectors.job_for(request.user, pk)
        if job is None or job.kind != services.REPORT_EXPORT_JOB:
            raise NotFound()
        return Response(_job_body(request, job))


class QuarterlyJobFileView(APIView):
    permission_classes = [StaffOnly]

    @extend_schema(
        responses={
            (200, xlsx.XLSX_CONTENT_TYPE): OpenApiTypes.BINARY,
            (200, "application/pdf"): OpenApiTypes.BINARY,
        }
    )
    def get(self, request, pk):
        job = selectors.job_for(request.user, pk)
        if job is None or job.kind != services.REPORT_EXPORT_JOB or not job.result_file:
            raise NotFound()
        storage = storages["private"]
        if not storage.exists(job.result_file):
            raise NotFound()
        name = job.result_file.rsplit("/", 1)[-1]
        audit_record(actor=request.user, action="report.downloaded", obj=job)
        response = FileResponse(
            storage.open(job.result_file, "rb"), as_attachment=True, filename=name
        )
        response["Content-Type"] = (
            "application/pdf" if name.endswith(".pdf") else xlsx.XLSX_CONTENT_TYPE
        )
        return response
