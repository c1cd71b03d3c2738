"""The verification API under ``/api/v1/verification/``. Thin: validate, call one service,
serialise. Errors follow the project's conventions (400 per field, 403, 404, 409)."""

from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Unit, User
from core.errors import DomainError, NotAllowed
from pledges.models import Matter, RiskLevel, VerificationMethod

from . import selectors, services
from .files import check_bytes, decode_data_uri
from .models import (
    AssistRequest,
    Cadence,
    CheckTask,
    Draw,
    Evidence,
    Finding,
    FindingResult,
    SpotCheckPlan,
)

# ---- plans ------------------------------------------------------------------------------


class PlanSerializer(serializers.ModelSerializer):
    matter = serializers.SlugRelatedField(
        slug_field="code", queryset=Matter.objects.all(), required=False, allow_null=True
    )
    risk_level = serializers.ChoiceField(
        choices=[("", "")] + list(RiskLevel.choices), required=False, allow_blank=True
    )
    cadence = serializers.ChoiceField(choices=Cadence.choices, required=False)
    crontab = serializers.SerializerMethodField()

    class Meta:
        model = SpotCheckPlan
        fields = [
            "id",
            "name",
            "matter",
            "risk_level",
            "ratio",
            "minimum",
            "method",
            "officers_onsite",
            "credit_weight",
            "cadence",
            "crontab",
            "starts_at",
            "last_cutoff",
            "active",
        ]
        read_only_fields = ["id", "last_cutoff", "crontab"]

    def get_crontab(self, plan) -> str | None:
        task = plan.periodic_task
        if task is None or task.crontab is None:
            return None
        c = task.crontab
        return f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"

    def validate(self, data):
        instance = self.instance
        matter = data.get("matter", getattr(instance, "matter", None))
        risk = data.get("risk_level", getattr(instance, "risk_level", ""))
        if bool(matter) == bool(risk):
            raise serializers.ValidationError(
                {"matter": [_("A plan covers one matter or one risk level, not both.")]}
            )
        return data


class PlanViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Spot-check plans: read by verification staff, kept by the catalog administrator."""

    serializer_class = PlanSerializer
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.plans_visible_to(self.request.user)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in ("GET", "HEAD", "OPTIONS"):
            if not selectors.can_read_plans(request.user):
                raise NotAllowed(_("Only verification staff read spot-check plans."))
        elif not selectors.can_keep_plans(request.user):
            raise NotAllowed(_("Only the catalog administrator keeps spot-check plans."))

    def perform_create(self, serializer):
        plan = SpotCheckPlan(**serializer.validated_data)
        serializer.instance = services.plan_save(plan=plan, actor=self.request.user)

    def perform_update(self, serializer):
        plan = serializer.instance
        for key, value in serializer.validated_data.items():
            setattr(plan, key, value)
        serializer.instance = services.plan_save(plan=plan, actor=self.request.user)


# ---- draws ------------------------------------------------------------------------------


class DrawSerializer(serializers.ModelSerializer):
    plan_name = serializers.CharField(source="plan.name")
    population_url = serializers.SerializerMethodField()

    class Meta:
        model = Draw
        fields = [
            "id",
            "plan",
            "plan_name",
            "cutoff",
            "window_start",
            "trigger",
            "seed",
            "algorithm_version",
            "ratio",
            "minimum",
            "credit_weight",
            "officers_onsite",
            "population_count",
            "population_sha256",
            "population_url",
            "drawn_count",
            "result_sha256",
            "strata",
            "drawn_at",
            "publish_due",
            "closed_at",
        ]

    def get_population_url(self, draw) -> str:
        path = f"/api/v1/verification/draws/{draw.pk}/population/"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class DrawRequestSerializer(serializers.Serializer):
    plan = serializers.PrimaryKeyRelatedField(queryset=SpotCheckPlan.objects.all())


class DrawViewSet(viewsets.ReadOnlyModelViewSet):
    """Draws: listed for staff; ``POST`` runs one now (supervisors, catalog administrators)."""

    serializer_class = DrawSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        queryset = selectors.draws_visible_to(self.request.user)
        plan = self.request.query_params.get("plan")
        if plan and plan.isdigit():
            queryset = queryset.filter(plan_id=int(plan))
        return queryset

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method == "POST":
            if not selectors.can_run_draws(request.user):
                raise NotAllowed(_("Only supervisors and catalog administrators run draws."))
        elif not selectors.can_read_plans(request.user):
            raise NotAllowed(
                _("Draws are listed for verification staff; the public page shows results.")
            )

    @extend_schema(
        request=DrawRequestSerializer,
        responses={
            201: DrawSerializer,
            200: OpenApiResponse(
                inline_serializer(
                    "NothingToDraw",
                    {"code": serializers.CharField(), "detail": serializers.CharField()},
                ),
                description="No new pledges since the last draw (`code`: `nothing_to_draw`).",
            ),
        },
    )
    def create(self, request):
        serializer = DrawRequestSerializer(data=request.data)
        # A plan outside the user's scope is as unknown as one that does not exist.
        serializer.fields["plan"].queryset = selectors.plans_runnable_by(request.user)
        serializer.is_valid(raise_exception=True)
        plan = serializer.validated_data["plan"]
        if not plan.active:
            raise DomainError(_("This plan is not active."), field="plan")
        draw = services.draw_execute(
            plan=plan, cutoff=timezone.now(), trigger=Draw.Trigger.MANUAL, actor=request.user
        )
        if draw is None:
            return Response(
                {"code": "nothing_to_draw", "detail": _("No new pledges since the last draw.")},
                status=status.HTTP_200_OK,
            )
        return Response(
            DrawSerializer(draw, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(responses={(200, "text/tab-separated-values"): bytes})
    @action(detail=True, methods=["get"])
    def population(self, request, pk=None):
        draw = self.get_object()
        return population_response(draw)


def population_response(draw: Draw) -> FileResponse:
    response = FileResponse(
        draw.population_file.open("rb"),
        as_attachment=True,
        filename=f"draw-{draw.pk}-population.tsv",
        content_type="text/tab-separated-values; charset=utf-8",
    )
    response["X-Content-SHA256"] = draw.population_sha256
    return response


# ---- tasks ------------------------------------------------------------------------------


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


class EvidenceSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = [
            "id",
            "kind",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "note",
            "uploaded_at",
            "finding",
            "url",
        ]

    def get_url(self, evidence) -> str:
        return f"/api/v1/verification/evidence/{evidence.pk}/file/"


class FindingSerializer(serializers.ModelSerializer):
    recorded_by = serializers.SerializerMethodField()
    countersigned_by = serializers.SerializerMethodField()
    evidence = EvidenceSerializer(many=True, read_only=True)

    class Meta:
        model = Finding
        fields = [
            "id",
            "task",
            "result",
            "method",
            "reason",
            "notes",
            "recorded_by",
            "recorded_at",
            "late",
            "countersigned_by",
            "countersigned_at",
            "effective_at",
            "credit_record_id",
            "evidence",
        ]

    def get_recorded_by(self, finding) -> str:
        return finding.recorded_by.get_username()

    def get_countersigned_by(self, finding) -> str | None:
        return _username(finding.countersigned_by)


class TaskSerializer(serializers.ModelSerializer):
    pledge_number = serializers.CharField(source="pledge.number")
    matter = serializers.CharField(source="matter.code")
    matter_name = serializers.CharField(source="matter.name")
    lead = serializers.SerializerMethodField()
    second = serializers.SerializerMethodField()
    late = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField()

    class Meta:
        model = CheckTask
        fields = [
            "id",
            "pledge_number",
            "matter",
            "matter_name",
            "method",
            "due_date",
            "lead",
            "second",
            "status",
            "origin",
            "draw",
            "late",
            "overdue_flagged_at",
            "result",
        ]

    def get_lead(self, task) -> str | None:
        return _username(task.lead)

    def get_second(self, task) -> str | None:
        return _username(task.second)

    def get_late(self, task) -> bool:
        return task.status != "done" and task.is_late_on(timezone.localdate())

    def get_result(self, task) -> str | None:
        finding = getattr(task, "finding", None)
        return finding.result if finding else None


class AssistRequestSerializer(serializers.ModelSerializer):
    department = serializers.SlugRelatedField(
        slug_field="code", queryset=Unit.objects.filter(kind=Unit.Kind.DEPARTMENT)
    )
    department_name = serializers.CharField(source="department.name", read_only=True)
    requested_by = serializers.SerializerMethodField()
    answered_by = serializers.SerializerMethodField()
    evidence = EvidenceSerializer(read_only=True, allow_null=True)

    class Meta:
        model = AssistRequest
        fields = [
            "id",
            "department",
            "department_name",
            "question",
            "requested_by",
            "requested_at",
            "answer",
            "answered_by",
            "answered_at",
            "evidence",
        ]
        read_only_fields = ["answer", "answered_at", "requested_at"]

    def get_requested_by(self, item) -> str:
        return item.requested_by.get_username()

    def get_answered_by(self, item) -> str | None:
        return _username(item.answered_by)


class TaskDetailSerializer(TaskSerializer):
    pledge = serializers.SerializerMethodField()
    methods = serializers.SerializerMethodField()
    evidence = EvidenceSerializer(many=True, read_only=True)
    assist_requests = AssistRequestSerializer(many=True, read_only=True)
    finding = serializers.SerializerMethodField()

    class Meta(TaskSerializer.Meta):
        fields = TaskSerializer.Meta.fields + [
            "pledge",
            "methods",
            "evidence",
            "assist_requests",
            "finding",
            "promise",
        ]

    promise = serializers.SerializerMethodField()

    def get_pledge(self, task) -> dict:
        pledge = task.pledge
        return {
            "number": pledge.number,
            "status": pledge.status,
            "signed_at": pledge.signed_at,
            "channel": pledge.channel,
            "applicant": {"name": pledge.applicant_name, "id_number": pledge.person.id_masked},
            "content": pledge.content,
            "content_sha256": pledge.content_sha256,
        }

    def get_methods(self, task) -> list[str]:
        return list(task.matter.verification_methods or [task.method])

    def get_finding(self, task) -> dict | None:
        finding = Finding.objects.filter(task=task).first()
        return FindingSerializer(finding).data if finding else None

    def get_promise(self, task) -> dict | None:
        if not task.promise_term_id:
            return None
        term = task.promise_term
        return {"key": term.key, "text": term.text, "deadline_days": term.deadline_days}


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "description": "id of a file already added to the task"},
            {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "data": {"type": "string", "description": "data:…;base64,… URI"},
                },
                "required": ["data"],
            },
        ]
    }
)
class EvidenceItemField(serializers.Field):
    """An evidence item: the id of a file already added to the task, or a new file as
    ``{"name": "...", "data": "data:...;base64,..."}``."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            raise serializers.ValidationError(_("An evidence id or a file."))
        if isinstance(data, int):
            return data
        if isinstance(data, str) and data.isdigit():
            return int(data)
        if isinstance(data, dict) and isinstance(data.get("data"), str):
            content = decode_data_uri(data["data"], field="evidence")
            return check_bytes(content, str(data.get("name") or "file"), field="evidence")
        raise serializers.ValidationError(_("An evidence id or a file."))

    def to_representation(self, value):  # pragma: no cover - write only
        return value


class FindingRequestSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=FindingResult.choices)
    method = serializers.ChoiceField(choices=VerificationMethod.choices)
    reason = serializers.CharField(max_length=4000)
    notes = serializers.CharField(max_length=8000, required=False, allow_blank=True)
    evidence = serializers.ListField(child=EvidenceItemField(), required=False, max_length=20)


class CountersignSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class AnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=4000)
    file = serializers.CharField(required=False, allow_blank=True, help_text="data URI")


class ReassignSerializer(serializers.Serializer):
    lead = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False
    )
    second = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False, allow_null=True
    )


class EvidenceUploadSerializer(serializers.Serializer):
    file = serializers.FileField(required=False)
    data = serializers.CharField(required=False, help_text="data URI instead of a file")
    name = serializers.CharField(required=False, max_length=150)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class TaskViewSet(viewsets.ReadOnlyModelViewSet):
    """Check tasks: an officer sees those they lead (``?as=second``: those awaiting their
    countersignature); a supervisor sees every task."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not (selectors.is_officer(request.user) or selectors.is_supervisor(request.user)):
            raise NotAllowed(_("Check tasks are for verification officers and supervisors."))

    def get_queryset(self):
        as_second = self.request.query_params.get("as") == "second"
        tasks = selectors.tasks_for(self.request.user, as_second=as_second)
        state = self.request.query_params.get("status")
        if state:
            tasks = tasks.filter(status=state)
        if self.request.query_params.get("overdue") in ("1", "true"):
            tasks = tasks.filter(overdue_flagged_at__isnull=False)
        return tasks

    def get_serializer_class(self):
        return TaskDetailSerializer if self.action == "retrieve" else TaskSerializer

    def get_object(self):
        task = selectors.task_visible_to(self.request.user, self.kwargs["pk"])
        if task is None:
            raise NotFound()
        return task

    def _task(self, pk) -> CheckTask:
        """A task in the user's scope (404 outside it); inside it, the action's service says
        who may act (403)."""
        task = selectors.task_visible_to(self.request.user, pk)
        if task is None:
            raise NotFound()
        return task

    @extend_schema(
        parameters=[OpenApiParameter("as", str, description="`second`: awaiting countersign")]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(methods=["GET"], request=None, responses=FindingSerializer)
    @extend_schema(
        methods=["POST"], request=FindingRequestSerializer, responses={201: FindingSerializer}
    )
    @action(detail=True, methods=["get", "post"])
    def findings(self, request, pk=None):
        if request.method == "GET":
            task = self.get_object()
            finding = Finding.objects.filter(task=task).first()
            if finding is None:
                raise NotFound()
            return Response(FindingSerializer(finding).data)
        task = self._task(pk)
        if request.user.pk != task.lead_id:
            raise NotAllowed(_("Only the lead officer of this check records its finding."))
        serializer = FindingRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        items = data.get("evidence") or []
        finding = services.finding_record(
            task=task,
            actor=request.user,
            result=data["result"],
            method=data["method"],
            reason=data["reason"],
            notes=data.get("notes", ""),
            evidence_ids=[i for i in items if isinstance(i, int)],
            checked_files=[i for i in items if not isinstance(i, int)],
        )
        finding.refresh_from_db()
        return Response(FindingSerializer(finding).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CountersignSerializer, responses=FindingSerializer)
    @action(detail=True, methods=["post"])
    def countersign(self, request, pk=None):
        task = self._task(pk)
        serializer = CountersignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        finding = services.finding_countersign(
            task=task, actor=request.user, note=serializer.validated_data.get("note", "")
        )
        return Response(FindingSerializer(finding).data)

    @extend_schema(methods=["GET"], request=None, responses=AssistRequestSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=AssistRequestSerializer,
        responses={201: AssistRequestSerializer},
    )
    @action(detail=True, methods=["get", "post"], url_path="assist-requests", pagination_class=None)
    def assist_requests(self, request, pk=None):
        if request.method == "GET":
            task = self.get_object()
            return Response(AssistRequestSerializer(task.assist_requests.all(), many=True).data)
        task = self._task(pk)
        serializer = AssistRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = services.assist_request_create(
            task=task,
            actor=request.user,
            department=serializer.validated_data["department"],
            question=serializer.validated_data["question"],
        )
        return Response(AssistRequestSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AnswerSerializer, responses=AssistRequestSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path=r"assist-requests/(?P<request_id>\d+)/answer",
    )
    def assist_answer(self, request, pk=None, request_id=None):
        # The department asked answers too, without opening the task itself.
        item = selectors.assist_request_for(request.user, pk, request_id)
        if item is None:
            raise NotFound()
        serializer = AnswerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = None
        if serializer.validated_data.get("file"):
            from django.core.files.base import ContentFile

            upload = ContentFile(
                decode_data_uri(serializer.validated_data["file"], field="file"), name="answer"
            )
        item = services.assist_request_answer(
            request=item,
            actor=request.user,
            answer=serializer.validated_data["answer"],
            upload=upload,
        )
        return Response(AssistRequestSerializer(item).data)

    @extend_schema(methods=["GET"], request=None, responses=EvidenceSerializer(many=True))
    @extend_schema(
        methods=["POST"], request=EvidenceUploadSerializer, responses={201: EvidenceSerializer}
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def evidence(self, request, pk=None):
        if request.method == "GET":
            task = self.get_object()
            return Response(EvidenceSerializer(task.evidence.all(), many=True).data)
        task = self._task(pk)
        serializer = EvidenceUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data.get("file")
        if upload is None:
            if not data.get("data"):
                raise DomainError(_("Send a file."), field="file")
            from django.core.files.base import ContentFile

            upload = ContentFile(
                decode_data_uri(data["data"], field="file"), name=data.get("name") or "file"
            )
        evidence = services.evidence_add(
            task=task, actor=request.user, upload=upload, note=data.get("note", "")
        )
        return Response(EvidenceSerializer(evidence).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={201: EvidenceSerializer})
    @action(detail=True, methods=["post"], url_path="data-check")
    def data_check(self, request, pk=None):
        task = self._task(pk)
        evidence = services.data_check_run(task=task, actor=request.user)
        return Response(EvidenceSerializer(evidence).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReassignSerializer, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        task = self._task(pk)
        if not selectors.is_supervisor(request.user):
            raise NotAllowed(_("Only a verification supervisor reassigns tasks."))
        serializer = ReassignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        task = services.task_reassign(
            task=task,
            actor=request.user,
            lead=data.get("lead"),
            second=data.get("second"),
            drop_second="second" in data and data["second"] is None,
        )
        return Response(TaskSerializer(task).data)


class EvidenceFileView(APIView):
    """``GET evidence/{id}/file/``: an evidence file, to those allowed to read it."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={
            # Uploads are sniffed images or PDFs; data checks are stored as JSON.
            (200, "application/pdf"): OpenApiTypes.BINARY,
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            (200, "application/json"): OpenApiTypes.OBJECT,
        }
    )
    def get(self, request, pk):
        evidence = Evidence.objects.select_related("task", "task__pledge").filter(pk=pk).first()
        if evidence is None or not selectors.evidence_readable_by(request.user, evidence):
            raise NotFound()
        return evidence_response(evidence)


def evidence_response(evidence: Evidence) -> FileResponse:
    response = FileResponse(
        evidence.file.open("rb"),
        as_attachment=True,
        filename=evidence.original_name or f"evidence-{evidence.pk}",
        content_type=evidence.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
