"""The baseline: a DRF endpoint that validates a body shaped like a pledge and inserts a row.

Same project settings as the real API (authentication, permissions, throttles, middleware),
none of the business logic.
"""

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import BareRow


class ApplicantSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    id_number = serializers.CharField(max_length=30)


class SignatureSerializer(serializers.Serializer):
    typed_name = serializers.CharField(max_length=100)
    image = serializers.CharField(required=False, allow_blank=True, max_length=400_000)


class BareSerializer(serializers.Serializer):
    matter = serializers.CharField(max_length=32)
    applicant = ApplicantSerializer()
    statements_accepted = serializers.BooleanField()
    signature = SignatureSerializer()


class BareInsertView(APIView):
    def post(self, request):
        serializer = BareSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        row = BareRow.objects.create(
            matter=data["matter"],
            name=data["applicant"]["name"],
            id_number=data["applicant"]["id_number"],
            typed_name=data["signature"]["typed_name"],
        )
        return Response(
            {"id": row.pk, "created_at": row.created_at}, status=status.HTTP_201_CREATED
        )
