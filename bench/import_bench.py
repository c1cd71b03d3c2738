"""Catalog-list import benchmark: a 50,000-row list, beside its baseline in one run.

    .venv/bin/python bench/import_bench.py [--rows 50000] [--rounds 3] [--database-url URL]

What it does, in a temporary SQLite database migrated on the spot (test settings: private
files in a temporary folder, tasks eager), or in the PostgreSQL database ``--database-url``
names (created if missing):

1. Writes a 50,000-row list in the template's format (realistic Chinese text, dates, every
   category) with openpyxl.
2. **Import vs baseline.** ``services.catalog_list_import`` (container checks, row count, the
   read-only openpyxl stream with the formula check, per-row validation, duplicate codes,
   batched inserts in one transaction, live progress, the job and audit rows) against the
   baseline: a bare ``load_workbook(read_only=True)`` + ``iter_rows(values_only=True)`` of the
   same file and a ``bulk_create`` of its rows into the same table in one transaction. Runs
   alternate; the medians are compared. Target: at most 2×.
3. **Memory.** Peak resident set size (``VmHWM``) of a fresh process that imports the list
   once, and of one that runs the baseline once. Target: import under 300 MB.

Exit status 0 when both targets are met, 1 when one is missed.
"""

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 2.0
TARGET_MB = 300


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def setup_django(database_url: str, *, migrate: bool) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if database_url.startswith("postgres") and migrate:
        _create_postgres_database(database_url)
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def _create_postgres_database(database_url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


DEPARTMENTS = ("SF", "PA", "HR", "MZ", "WJ", "JY", "YB", "SJ", "SW")
WORDS = ("居住", "收入", "婚姻", "亲属", "就业", "学历", "健康", "财产", "户籍", "养老")


def write_list(path: Path, rows: int) -> None:
    """A list as a town would hand it in, in the template's columns."""
    from openpyxl import Workbook

    from oversight.xlsx import COLUMNS, DISPOSITION_WORDS

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("清单")
    sheet.append([column.label for column in COLUMNS])
    dispositions = list(DISPOSITION_WORDS.values())
    for n in range(rows):
        word = WORDS[n % len(WORDS)]
        disposition = dispositions[n % 4]
        sheet.append(
            [
                f"B-{n:06d}",
                f"{word}情况核实事项第{n}号（演示）",
                f"{word}状况证明",
                disposition,
                f"《济源市证明事项清单管理办法》第{n % 30 + 1}条",
                DEPARTMENTS[n % len(DEPARTMENTS)],
                "社区居民委员会" if n % 3 else "",
                "向公安机关户籍窗口查询" if disposition == "不得出具" else "",
                dt.date(2021, 1, 1) + dt.timedelta(days=n % 1000),
                None if n % 5 else dt.date(2030, 12, 31),
            ]
        )
    workbook.save(path)


def ensure_units() -> None:
    from accounts.models import Unit

    for code in DEPARTMENTS:
        Unit.objects.get_or_create(code=code, defaults={"name": code, "kind": "department"})
    Unit.objects.get_or_create(code="BENCH-TOWN", defaults={"name": "测试镇", "kind": "town"})


def bench_user():
    from django.contrib.auth.models import Group

    from accounts.models import Unit, User

    user, created = User.objects.get_or_create(
        username="bench-lists", defaults={"unit": Unit.objects.get(code="BENCH-TOWN")}
    )
    if created:
        user.groups.add(Group.objects.get(name="list_submitter"))
    return user


def queued_list(path: Path):
    """A list as the upload leaves it: stored file, queued, with its job."""
    import hashlib

    from django.core.files import File

    from core.models import BackgroundJob
    from oversight.models import CatalogList

    user = bench_user()
    data = path.read_bytes()
    job = BackgroundJob.objects.create(kind="catalog_list_import", owner=user)
    catalog_list = CatalogList(
        unit=user.unit,
        submitted_by=user,
        file_name=path.name,
        file_sha256=hashlib.sha256(data).hexdigest(),
        file_size=len(data),
        job=job,
    )
    with path.open("rb") as handle:
        catalog_list.file.save(path.name, File(handle), save=False)
    catalog_list.save()
    return catalog_list


def run_import(path: Path) -> tuple[float, int]:
    from oversight import services

    catalog_list = queued_list(path)
    start = time.perf_counter()
    result = services.catalog_list_import(catalog_list_id=catalog_list.pk)
    elapsed = time.perf_counter() - start
    assert result.status == "imported", (result.status, result.refusal)
    rows = result.row_count
    result.rows.all().delete()
    return elapsed, rows


def run_baseline(path: Path) -> tuple[float, int]:
    """A bare read-only openpyxl read and a bulk insert of the rows, in one transaction."""
    from django.db import transaction
    from openpyxl import load_workbook

    from oversight.models import CatalogListRow

    catalog_list = queued_list(path)
    keys = (
        "code",
        "name",
        "certificate",
        "disposition",
        "legal_basis",
        "department",
        "issuer",
        "where_instead",
        "valid_from",
        "valid_to",
    )
    start = time.perf_counter()
    workbook = load_workbook(path, read_only=True)
    sheet = workbook.worksheets[0]
    count = 0
    with transaction.atomic():
        batch = []
        for number, values in enumerate(sheet.iter_rows(min_row=2, values_only=True), 2):
            row = dict.fromkeys(keys) | dict(zip(keys, values, strict=False))
            batch.append(
                CatalogListRow(
                    catalog_list_id=catalog_list.pk,
                    row_number=number,
                    code=row["code"],
                    name=row["name"],
                    certificate=row["certificate"],
                    disposition=row["disposition"],
                    legal_basis=row["legal_basis"] or "",
                    department=row["department"],
                    issuer=row["issuer"] or "",
                    where_instead=row["where_instead"] or "",
                    valid_from=row["valid_from"],
                    valid_to=row["valid_to"],
                )
            )
            if len(batch) >= 2000:
                CatalogListRow.objects.bulk_create(batch)
                count += len(batch)
                batch = []
        CatalogListRow.objects.bulk_create(batch)
        count += len(batch)
    workbook.close()
    elapsed = time.perf_counter() - start
    CatalogListRow.objects.filter(catalog_list=catalog_list).delete()
    return elapsed, count


def child(mode: str, path: Path, database_url: str) -> None:
    """One run in a fresh process; prints its peak resident set size."""
    setup_django(database_url, migrate=False)
    elapsed, rows = (run_import if mode == "import" else run_baseline)(path)
    print(f"{peak_rss_mb():.1f} {elapsed:.3f} {rows}")


def measure_child(mode: str, path: Path, database_url: str) -> tuple[float, float]:
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--file",
            str(path),
            "--database-url",
            database_url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    peak, elapsed, _rows = result.stdout.strip().splitlines()[-1].split()
    return float(peak), float(elapsed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--child", choices=["import", "baseline"])
    parser.add_argument("--file")
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.file), args.database_url)
        return 0

    workdir = tempfile.mkdtemp(prefix="import-bench-")
    database_url = args.database_url or f"sqlite:///{workdir}/import-bench.sqlite3"
    setup_django(database_url, migrate=True)
    ensure_units()
    path = Path(workdir) / "list-50000.xlsx"
    started = time.perf_counter()
    write_list(path, args.rows)
    print(
        f"list: {args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB "
        f"(written in {time.perf_counter() - started:.1f} s)"
    )
    print(f"database: {database_url.split('@')[-1]}")

    imports, baselines = [], []
    for round_number in range(1, args.rounds + 1):
        base, base_rows = run_baseline(path)
        imp, imp_rows = run_import(path)
        assert base_rows == imp_rows == args.rows, (base_rows, imp_rows)
        baselines.append(base)
        imports.append(imp)
        print(
            f"round {round_number}: baseline {base:.2f} s, import {imp:.2f} s ({imp / base:.2f}×)"
        )
    base_median, import_median = statistics.median(baselines), statistics.median(imports)
    ratio = import_median / base_median
    print(
        f"median: baseline {base_median:.2f} s, import {import_median:.2f} s → {ratio:.2f}× "
        f"(target ≤ {TARGET_RATIO}×); {args.rows / import_median:,.0f} rows/s"
    )
    import_peak, _ = measure_child("import", path, database_url)
    base_peak, _ = measure_child("baseline", path, database_url)
    print(
        f"peak RSS of a fresh process: import {import_peak:.0f} MB (target < {TARGET_MB} MB), "
        f"baseline {base_peak:.0f} MB"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, "
        f"{dt.datetime.now():%Y-%m-%d %H:%M}"
    )
    ok = ratio <= TARGET_RATIO and import_peak < TARGET_MB
    print("OK" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
