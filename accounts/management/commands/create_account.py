from django.core.management.base import BaseCommand, CommandError

from accounts import two_factor
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
        parser.add_argument(
            "--totp-secret",
            default="",
            help="base32 secret of the staff member's authenticator app (replaces any earlier)",
        )
        parser.add_argument(
            "--recovery-codes",
            action="store_true",
            help="issue a new set of recovery codes and print them (once)",
        )

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
                totp_secret=options["totp_secret"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        verb = "created" if created else "updated"
        self.stdout.write(f"{verb} {user.username} ({options['role']})")
        if options["totp_secret"]:
            self.stdout.write("authenticator set (TOTP, 6 digits, 30 s)")
        if options["recovery_codes"]:
            codes = two_factor.recovery_codes_issue(user=user)
            self.stdout.write("recovery codes (each works once; give them to the person):")
            for code in codes:
                self.stdout.write(f"  {code}")
        elif two_factor.requires_two_factor(user) and not two_factor.has_authenticator(user):
            self.stderr.write(
                "note: a staff account signs in only with an authenticator; "
                "run again with --totp-secret BASE32"
            )
