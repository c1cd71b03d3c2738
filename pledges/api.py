"""The catalog and pledge API. Thin: validate, call one service, serialise."""

import base64
import binascii
import copy
import re

import django_filters
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from accounts import roles
from accounts.models import Unit
from core.api import idempotent
from core.errors import DomainError, NotAllowed

from . import selectors, services
from .models import Channel, Disposition, Matter, Pledge, PledgeStatus

# ---- catalog ----------------------------------------------------------------------------


class TemplateSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    notice = serializers.JSONField()
    statements = serializers.JSONField()


class MatterSerializer(serializers.ModelSerializer):
    department = serializers.CharField(source="department.name")
    department_code = serializers.CharField(source="department.code")
    disposition_display = serializers.CharField(source="get_disposition_display")
    pledgeable = serializers.SerializerMethodField()

    class Meta:
        model = Matter
        fields = [
            "code",
            "name",
            "department",
            "department_code",
            "certificate",
            "legal_basis",
            "disposition",
            "disposition_display",
            "pledgeable",
            "excluded_from_pledge",
            "exclusion_reason",
            "risk_level",
            "verification_methods",
            "verification_days",
            "publish_pledges",
            "publication_scope",
            "publication_period_days",
            "where_instead",
            "valid_from",
            "valid_to",
            "source",
        ]

    def get_pledgeable(self, matter) -> bool:
        has_template = getattr(matter, "has_template", None)
        if has_template is None:
            return selectors.matter_is_pledgeable(matter)
        return matter.accepts_pledges and has_template


class MatterDetailSerializer(MatterSerializer):
    template = serializers.SerializerMethodField()

    class Meta(MatterSerializer.Meta):
        fields = MatterSerializer.Meta.fields + ["template"]

    @extend_schema(responses=TemplateSerializer(allow_null=True))
    def get_template(self, matter) -> dict | None:
        template = matter.current_template()
        if template is None:
            return None
        return TemplateSerializer(template).data


class MatterFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_noop")
    department = django_filters.CharFilter(method="filter_noop")
    disposition = django_filters.ChoiceFilter(choices=Disposition.choices, method="filter_noop")
    pledgeable = django_filters.BooleanFilter(method="filter_noop")

    class Meta:
        model = Matter
        fields = []

    def filter_noop(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        return selectors.matter_list(
            search=data.get("search") or "",
            department=data.get("department") or "",
            disposition=data.get("disposition") or "",
            pledgeable=data.get("pledgeable"),
        )


class MatterViewSet(viewsets.ReadOnlyModelViewSet):
    """The public catalog of certificate matters (every disposition unless filtered)."""

    permission_classes = [AllowAny]
    lookup_field = "code"
    lookup_value_regex = r"[A-Za-z0-9_.\-]+"
    filterset_class = MatterFilter

    def get_queryset(self):
        return selectors.matter_list()

    def get_serializer_class(self):
        return MatterDetailSerializer if self.action == "retrieve" else MatterSerializer


# ---- pledges ----------------------------------------------------------------------------


class ApplicantSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    id_number = serializers.CharField(max_length=30)
    phone = serializers.RegexField(r"^1\d{10}$", required=False, allow_blank=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    town = serializers.CharField(max_length=32, required=False, allow_blank=True)

    def validate_town(self, value):
        if not value:
            return None
        town = Unit.objects.filter(code=value, kind__in=[Unit.Kind.TOWN, Unit.Kind.STREET]).first()
        if town is None:
            raise serializers.ValidationError(_("Unknown town or street."))
        return town


class DataURIField(serializers.CharField):
    """A base64 data URI, which is ASCII by definition.

    DRF's ``CharField`` looks for surrogate characters one character at a time in Python:
    0.7 ms on a drawn signature, over half a second on an 8 MB scan. One ``isascii()`` call
    rules them out instead.
    """

    default_error_messages = {"not_ascii": gettext_lazy("Send the file as a base64 data URI.")}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(validator, ProhibitSurrogateCharactersValidator)
        ]

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not value.isascii():
            self.fail("not_ascii")
        return value


class SignatureSerializer(serializers.Serializer):
    typed_name = serializers.CharField(max_length=100)
    image = DataURIField(required=False, allow_blank=True, max_length=400_000)


_SCAN_URI = re.compile(r"^data:(application/pdf|image/png|image/jpeg);base64,(?P<data>.+)$", re.S)


class PledgeCreateSerializer(serializers.Serializer):
    matter = serializers.CharField(max_length=32)
    applicant = ApplicantSerializer()
    statements_accepted = serializers.BooleanField()
    signature = SignatureSerializer()
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    template_version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The text version the applicant read; 409 if a newer one was published since.",
    )
    paper_scan = DataURIField(
        required=False,
        allow_blank=True,
        max_length=8_000_000,
        help_text="Window only: data URI (PDF, PNG or JPEG) of the form signed on paper.",
    )

    def validate_matter(self, value):
        matter, template = selectors.matter_for_signing(value)
        if matter is None:
            raise serializers.ValidationError(_("Unknown matter."))
        self.current_template = template  # read with the matter: one query, not two
        return matter

    def validate_paper_scan(self, value):
        if not value:
            return None
        match = _SCAN_URI.match(value)
        if not match:
            raise serializers.ValidationError(_("The scan must be a PDF, PNG or JPEG data URI."))
        try:
            raw = base64.b64decode(match.group("data"))
        except (binascii.Error, ValueError) as exc:
            raise serializers.ValidationError(_("The scan cannot be read.")) from exc
        if not (
            raw.startswith(b"%PDF") or raw[:8] == b"\x89PNG\r\n\x1a\n" or raw[:2] == b"\xff\xd8"
        ):
            raise serializers.ValidationError(_("The scan must be a PDF, PNG or JPEG file."))
        return ContentFile(raw, name="scan")


class PledgeSerializer(serializers.ModelSerializer):
    matter = serializers.CharField(source="matter.code")
    matter_name = serializers.CharField(source="matter.name")
    status_display = serializers.CharField(source="get_status_display")
    template_version = serializers.IntegerField(source="template.version")
    applicant = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()
    verify_url = serializers.SerializerMethodField()

    class Meta:
        model = Pledge
        fields = [
            "number",
            "status",
            "status_display",
            "matter",
            "matter_name",
            "channel",
            "signed_at",
            "template_version",
            "content_sha256",
            "applicant",
            "pdf_url",
            "verify_url",
            "decided_at",
            "withdrawn_at",
        ]

    def get_fields(self):
        """Build the fields once per class, hand each instance its own copy.

        DRF rebuilds a model serializer's fields from the model for every instance: 2 ms on
        this stack, a sixth of a signing's CPU; the copy costs a third of that.
        """
        cls = type(self)
        built = cls.__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            cls._built_fields = built
        return copy.deepcopy(built)

    def get_applicant(self, pledge) -> dict:
        return {"name": pledge.applicant_name, "id_number": pledge.person.id_masked}

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_pdf_url(self, pledge) -> str:
        return self._absolute(selectors.pdf_path(pledge))

    def get_verify_url(self, pledge) -> str:
        return self._absolute(selectors.verify_path(pledge))


_DATETIME = serializers.DateTimeField()


def pledge_representation(pledge: Pledge, request) -> dict:
    """``PledgeSerializer(pledge, context={"request": request}).data``, built directly.

    For the answer to a signing: DRF's field machinery (copying the fields, reading each
    attribute through its source) costs 0.5 ms more than the dict itself, on the path that
    has to be cheapest. tests/pledges/test_api.py keeps the two equal, key for key.
    """

    def absolute(path):
        return request.build_absolute_uri(path) if request else path

    def moment(value):
        return None if value is None else _DATETIME.to_representation(value)

    return {
        "number": pledge.number,
        "status": pledge.status,
        "status_display": pledge.get_status_display(),
        "matter": pledge.matter.code,
        "matter_name": pledge.matter.name,
        "channel": pledge.channel,
        "signed_at": moment(pledge.signed_at),
        "template_version": pledge.template.version,
        "content_sha256": pledge.content_sha256,
        "applicant": {"name": pledge.applicant_name, "id_number": pledge.person.id_masked},
        "pdf_url": absolute(selectors.pdf_path(pledge)),
        "verify_url": absolute(selectors.verify_path(pledge)),
        "decided_at": moment(pledge.decided_at),
        "withdrawn_at": moment(pledge.withdrawn_at),
    }


class PledgeDetailSerializer(PledgeSerializer):
    content = serializers.JSONField()

    class Meta(PledgeSerializer.Meta):
        fields = PledgeSerializer.Meta.fields + ["content", "decision_note", "withdraw_reason"]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class PledgeDecisionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class WindowLookupSerializer(serializers.Serializer):
    id_number = serializers.CharField(
        max_length=30, help_text="The ID number on the card the resident shows at the window."
    )


class PledgeFilter(django_filters.FilterSet):
    matter = django_filters.CharFilter(field_name="matter__code")
    status = django_filters.ChoiceFilter(choices=PledgeStatus.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    date = django_filters.DateFilter(field_name="signed_at", lookup_expr="date")
    signed_after = django_filters.DateFilter(field_name="signed_at", lookup_expr="date__gte")
    signed_before = django_filters.DateFilter(field_name="signed_at", lookup_expr="date__lte")

    class Meta:
        model = Pledge
        fields = []


class PledgeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Pledges: a resident sees and signs their own; window clerks sign at the window."""

    permission_classes = [IsAuthenticated]
    lookup_field = "number"
    lookup_value_regex = r"CN-\d{4}-\d{6}"
    filterset_class = PledgeFilter

    def get_queryset(self):
        return selectors.pledges_visible_to(self.request.user)

    def get_serializer_class(self):
        if self.action == "create":
            return PledgeCreateSerializer
        if self.action == "retrieve":
            return PledgeDetailSerializer
        return PledgeSerializer

    def get_object(self):
        pledge = selectors.pledge_for(self.request.user, self.kwargs["number"])
        if pledge is None:
            raise NotFound()
        return pledge

    @extend_schema(
        request=PledgeCreateSerializer,
        responses={201: PledgeSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    @idempotent
    def create(self, request):
        if not isinstance(request.data, dict):
            raise DomainError(_("The body must be a JSON object."), field="non_field_errors")
        serializer = PledgeCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = request.user
        channel = data.get("channel")
        if channel is None:
            channel = Channel.WINDOW if roles.has_role(user, roles.WINDOW_CLERK) else Channel.ONLINE
        if not roles.has_role(user, roles.RESIDENT, roles.WINDOW_CLERK):
            raise NotAllowed(_("Only residents and window clerks sign pledges."))
        pledge = services.pledge_sign(
            matter=data["matter"],
            applicant=data["applicant"],
            actor=user,
            statements_accepted=data["statements_accepted"],
            typed_name=data["signature"]["typed_name"],
            signature_image=data["signature"].get("image") or None,
            channel=channel,
            paper_scan=data.get("paper_scan"),
            template=serializer.current_template,
            template_version=data.get("template_version"),
        )
        return Response(pledge_representation(pledge, request), status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonSerializer, responses=PledgeSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, number=None):
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pledge = services.pledge_withdraw(
            pledge=self.get_object(),
            actor=request.user,
            reason=serializer.validated_data.get("reason", ""),
        )
        return Response(PledgeSerializer(pledge, context={"request": request}).data)

    @extend_schema(request=WindowLookupSerializer, responses=PledgeSerializer(many=True))
    @action(detail=False, methods=["post"])
    def lookup(self, request):
        """A window clerk looks a resident up by ID number: recorded, it opens the resident's
        online pledges to the clerk for the day (docs/access.md). Their pledges in scope."""
        if not roles.has_role(request.user, roles.WINDOW_CLERK):
            raise NotAllowed(_("Only a window clerk looks residents up at the window."))
        serializer = WindowLookupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        number = serializer.validated_data["id_number"]
        services.window_person_lookup(actor=request.user, id_number=number)
        pledges = self.filter_queryset(selectors.pledges_by_id_number(request.user, number))
        page = self.paginate_queryset(pledges)
        data = PledgeSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    @extend_schema(request=PledgeDecisionSerializer, responses=PledgeSerializer)
    @action(detail=True, methods=["post"])
    def decision(self, request, number=None):
        if not roles.has_role(request.user, roles.WINDOW_CLERK):
            raise NotAllowed(_("Only a window clerk records decisions."))
        serializer = PledgeDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pledge = services.pledge_decide(
            pledge=self.get_object(),
            actor=request.user,
            note=serializer.validated_data.get("note", ""),
        )
        return Response(PledgeSerializer(pledge, context={"request": request}).data)
