"""Keep the role groups present: a test flush (or a fresh database) removes them otherwise."""

from django.db import IntegrityError, transaction
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from .roles import ALL_ROLES


@receiver(post_migrate)
def ensure_roles(sender, using="default", **kwargs):
    """Re-create missing role groups with the ids the migration gave them.

    The same ids matter in tests: a transactional test's flush removes the groups, and a later
    test that reloads the serialized database must find them under their original ids, or the
    reload collides on the unique name.
    """
    if sender.label != "accounts":
        return
    from django.contrib.auth.models import Group

    groups = Group.objects.using(using)
    for position, name in enumerate(ALL_ROLES, start=1):
        if groups.filter(name=name).exists():
            continue
        try:
            with transaction.atomic(using=using):
                groups.create(id=position, name=name)
        except IntegrityError:
            groups.get_or_create(name=name)
