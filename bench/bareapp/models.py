from django.db import models
from django.utils import timezone


class BareRow(models.Model):
    """One inserted row per request: the least a signing endpoint could do."""

    matter = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    id_number = models.CharField(max_length=30)
    typed_name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
