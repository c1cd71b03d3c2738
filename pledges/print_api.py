"""The printing API: a pledge's form and a matter's blank form, as PDF files.

Both answer 200 with the PDF at once: rendered and stored on the first request, served from
storage afterwards.
"""

import json

from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.views import APIView

from core.errors import DomainError

from . import printing, selectors
from .models import Matter


class PDFRenderer(BaseRenderer):
    """Lets a client ask for ``Accept: application/pdf``; errors still come as JSON text."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return json.dumps(data, ensure_ascii=False).encode()


def pdf_response(handle, filename: str) -> FileResponse:
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type="application/pdf"
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


PDF_RESPONSES = {
    (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF file."),
    401: OpenApiResponse(description="Not signed in."),
    404: OpenApiResponse(description="No such pledge visible to you."),
}


class PledgePdfView(APIView):
    """``GET /api/v1/pledges/{number}/pdf/``: the printed form, for its owner and for staff."""

    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer, PDFRenderer]

    @extend_schema(
        operation_id="pledges_pdf",
        tags=["pledges"],
        responses=PDF_RESPONSES,
        description="The two-copy printed form (A4). Staff downloads are audited.",
    )
    def get(self, request, number):
        pledge = selectors.pledge_for(request.user, number)
        if pledge is None:
            raise NotFound()
        pledge = printing.pledge_pdf_print(pledge=pledge, actor=request.user, via="api")
        return pdf_response(printing.open_stored_pdf(pledge), printing.pledge_pdf_filename(pledge))


class BlankFormView(APIView):
    """``GET /api/v1/matters/{code}/blank-form/``: a pledgeable matter's form for hand filling.

    Public, like the catalog and the service guides that list blank forms (DOMAIN.md §5):
    it holds no personal data, and each version is rendered once and then served from storage.
    """

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, PDFRenderer]

    @extend_schema(
        operation_id="matters_blank_form",
        tags=["matters"],
        responses={
            (200, "application/pdf"): PDF_RESPONSES[(200, "application/pdf")],
            404: OpenApiResponse(description="Unknown matter, or one that takes no pledge."),
        },
    )
    def get(self, request, code):
        matter = Matter.objects.select_related("department").filter(code=code).first()
        if matter is None:
            raise NotFound(_("Unknown matter."))
        try:
            name = printing.blank_form_get(matter=matter, actor=request.user)
        except DomainError as error:
            raise NotFound(error.message) from error
        return pdf_response(printing.open_stored(name), printing.blank_form_filename(matter))
