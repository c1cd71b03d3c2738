"""Demo data for accounts: units, the local population registry and the demo accounts.

Called by ``manage.py load_demo``, never under production settings. Every loader creates what
is missing and leaves existing rows alone, so running it again changes nothing and keeps any
edit made since (a demo account's new password, a renamed unit).
"""

import csv
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from . import id_numbers, roles, two_factor
from .models import RegistryEntry, Unit, User
from .services import account_upsert, person_get_or_create

DATA_DIR = Path(__file__).resolve().parent / "data"
UNITS_CSV = DATA_DIR / "units.csv"
POPULATION_CSV = DATA_DIR / "demo_population.csv"

# The one password every demo account shares; the README quotes it.
DEMO_PASSWORD = "chengnuo-demo-2026"
# The one authenticator secret every demo staff account shares (base32, RFC 6238 TOTP);
# the README quotes it. Production has no demo accounts, so it never guards real data.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    real_name: str
    unit_code: str = ""
    phone: str = ""


# The demo resident is the first person of the population registry, living in 沁园街道.
DEMO_RESIDENT_TOWN = "419001-J01"
DEMO_RESIDENT_ADDRESS = "沁园街道示范路1号"

DEMO_ACCOUNTS = (
    DemoAccount("demo-resident", roles.RESIDENT, "", phone="13800000001"),
    DemoAccount("demo-window", roles.WINDOW_CLERK, "窗口演示员", "HALL"),
    DemoAccount("demo-officer", roles.VERIFICATION_OFFICER, "核查演示员", "SF"),
    DemoAccount("demo-supervisor", roles.VERIFICATION_SUPERVISOR, "核查负责人演示员", "SF"),
    DemoAccount("demo-credit", roles.CREDIT_OFFICER, "信用演示员", "CREDIT"),
    DemoAccount("demo-admin", roles.CATALOG_ADMIN, "目录管理演示员", "MZ"),
    DemoAccount("demo-oversight", roles.OVERSIGHT_OFFICER, "监督演示员", "MZ"),
    DemoAccount("demo-lists", roles.LIST_SUBMITTER, "清单报送演示员", "419001-Z01"),
)


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def population_rows() -> list[dict]:
    """The demo population registry: synthetic people with valid, made-up ID numbers."""
    return _rows(POPULATION_CSV)


def load_units() -> int:
    """Towns and street offices of Jiyuan, the departments, the service hall, the credit office."""
    created = 0
    for row in _rows(UNITS_CSV):
        _, was_created = Unit.objects.get_or_create(
            code=row["code"], defaults={"name": row["name"], "kind": row["kind"]}
        )
        created += was_created
    return created


def load_population() -> int:
    """The registry the demo real-name check reads: keyed hash and name, never the number."""
    created = 0
    for row in population_rows():
        number = id_numbers.validate(row["id_number"])
        _, was_created = RegistryEntry.objects.get_or_create(
            id_hash=id_numbers.keyed_hash(number), defaults={"name": row["name"].strip()}
        )
        created += was_created
    return created


def _ensure_account(account: DemoAccount) -> bool:
    """Create one demo account through ``account_upsert``; an existing one is left as it is
    (except that a demo staff account without an authenticator gets the demo one)."""
    existing = User.objects.filter(username=account.username).first()
    if existing is not None:
        if account.role != roles.RESIDENT and not two_factor.has_authenticator(existing):
            two_factor.totp_provision(user=existing, secret_base32=DEMO_TOTP_SECRET)
        return False
    if account.role == roles.RESIDENT:
        resident = population_rows()[0]
        person_get_or_create(
            id_number=resident["id_number"],
            name=resident["name"],
            phone=account.phone,
            address=DEMO_RESIDENT_ADDRESS,
            town=Unit.objects.get(code=DEMO_RESIDENT_TOWN),
        )
        account_upsert(
            username=account.username,
            role=account.role,
            password=DEMO_PASSWORD,
            real_name=resident["name"],
            id_number=resident["id_number"],
            phone=account.phone,
        )
    else:
        account_upsert(
            username=account.username,
            role=account.role,
            password=DEMO_PASSWORD,
            real_name=account.real_name,
            unit_code=account.unit_code,
            phone=account.phone,
            totp_secret=DEMO_TOTP_SECRET,
        )
    return True


def load_accounts() -> int:
    return sum(_ensure_account(account) for account in DEMO_ACCOUNTS)


def load(stdout=None) -> dict[str, int]:
    """Load units, registry and accounts; return how many rows of each were created."""
    with transaction.atomic():
        counts = {
            "units": load_units(),
            "registry entries": load_population(),
            "accounts": load_accounts(),
        }
    return counts
