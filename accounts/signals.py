"""Keep the role groups present: a test flush (or a fresh database) removes them otherwise."""

from django.db.models.signals import post_migrate
from django.dispatch import receiver

from .roles import ALL_ROLES


@receiver(post_migrate)
def ensure_roles(sender, using="default", **kwargs):
    if sender.label != "accounts":
        return
    from django.contrib.auth.models import Group

    for name in ALL_ROLES:
        Group.objects.using(using).get_or_create(name=name)
