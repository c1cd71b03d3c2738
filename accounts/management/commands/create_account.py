from django.core.management.base import BaseCommand, CommandError

from accounts.roles import ALL_ROLES
from accounts.services import account_upsert
from core.errors import DomainError


class Command(BaseCommand):
    help = "Create an account, or update role, password and details of an existing one."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, help=", ".join(ALL_ROLES))
        parser.add_argument("--password", required=True)
        parser.add_argument("--real-name", default="")
        parser.add_argument("--id-number", default="")
        parser.add_argument("--unit", default="", help="unit code or name")
        parser.add_argument("--phone", default="")

    def handle(self, *args, **options):
        try:
            user, created = account_upsert(
                username=options["username"],
                role=options["role"],
                password=options["password"],
                real_name=options["real_name"],
                id_number=options["id_number"],
                unit_code=options["unit"],
                phone=options["phone"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        verb = "created" if created else "updated"
        self.stdout.write(f"{verb} {user.username} ({options['role']})")
