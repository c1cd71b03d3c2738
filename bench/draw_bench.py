"""Benchmark: a 5% spot-check draw over 1,000,000 pledges in 200 matters on PostgreSQL.

Measured in the same run against its baseline, the same draw hand-written as ONE SQL statement
(select the sample with the same SHA-256 ranks, pick the officers, insert the tasks). The
draw service does more: it locks the plan, streams the whole population out with COPY into its
file while hashing it, inserts the tasks with the same kind of statement, puts the drawn
pledges under check, and records digests and counts. Target: at most 1.5x the baseline.

Peak memory is measured in a child process running only the draw (``VmHWM`` of that
process, which includes Python and Django themselves, and ``tracemalloc``'s peak of what the
draw allocates), for the 1,000,000-pledge plan and for a one-matter plan of 5,000 pledges: the
two should be about the same, since the population never enters Python. Target: < 200 MB.

The follow-up (notices to the persons drawn and the officers) is a separate Celery task that
runs after the commit in a worker; it is not part of the draw and is left out here.

Usage: ``.venv/bin/python bench/draw_bench.py [--database-url URL] [--repeat 3]``. The database
(``bench_draw`` by default) is created, migrated and filled the first time (a minute or two);
later runs reuse it.
"""

import argparse
import datetime as dt
import json
import os
import platform
import resource
import secrets
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_draw"
PLEDGES = 1_000_000
MATTERS = 200
PERSONS = 10_000
OFFICERS = 20
RATIO = "0.05"
RISK = "high"
SMALL_MATTER = "BENCH-000"


def setup(database_url: str, *, migrate: bool = True) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["DATABASE_URL"] = database_url
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    _create_database(database_url)
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    # The follow-up is the worker's job after the commit, not part of the draw.
    from verification import services

    services._dispatch_follow_up = lambda draw_id: None


def _create_database(database_url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


# ---- data -----------------------------------------------------------------------------------


def fill() -> None:
    """200 high-risk matters, 10,000 persons, 20 officers, 1,000,000 pledges (generate_series)."""
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Person, Unit, User
    from pledges.models import Matter, Pledge, PledgeTemplate

    if (
        Pledge.objects.count() == PLEDGES
        and Matter.objects.filter(code__startswith="BENCH-").count() == MATTERS
    ):
        return
    print("filling bench_draw (once) ...", flush=True)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE verification_evidence, verification_finding, verification_checktask,"
                " verification_draw, verification_spotcheckplan, pledges_pledge CASCADE"
            )
        department, _ = Unit.objects.get_or_create(
            code="BENCH-D", defaults={"name": "基准部门", "kind": Unit.Kind.DEPARTMENT}
        )
        towns = [
            Unit.objects.get_or_create(
                code=f"BENCH-T{i}", defaults={"name": f"基准镇{i}", "kind": Unit.Kind.TOWN}
            )[0]
            for i in range(10)
        ]
        matters = []
        for i in range(MATTERS):
            matter, _ = Matter.objects.get_or_create(
                code=f"BENCH-{i:03d}",
                defaults={
                    "name": f"基准事项{i}",
                    "department": department,
                    "certificate": "证明",
                    "legal_basis": "依据",
                    "disposition": "pledge",
                    "risk_level": RISK,
                    "verification_methods": ["written"],
                },
            )
            PledgeTemplate.objects.get_or_create(
                matter=matter,
                version=1,
                defaults={"notice": [], "statements": [], "status": "published"},
            )
            matters.append(matter)
        if Person.objects.filter(id_hash__startswith="bench").count() < PERSONS:
            people = []
            for i in range(PERSONS):
                person = Person(name=f"基准{i}", id_masked="419001********0000")
                person.id_hash = f"bench{i:059d}"
                person.id_number = "not-a-real-number"
                people.append(person)
            Person.objects.bulk_create(people, batch_size=2000)
        group = Group.objects.get(name="verification_officer")
        for i in range(OFFICERS):
            user, _ = User.objects.get_or_create(
                username=f"bench-officer-{i}",
                defaults={"unit": towns[i] if i < 5 else department, "real_name": f"核查员{i}"},
            )
            user.groups.add(group)
        town_ids = [t.pk for t in towns]
        now = timezone.now()
        explicit = {
            "number": "'CN-2025-' || lpad(g::text, 7, '0')",
            "matter_id": "mt.matter_id",
            "template_id": "mt.template_id",
            "person_id": "pp.person_id",
            "applicant_name": "'基准申请人'",
            "applicant_town_id": f"(ARRAY{town_ids}::bigint[])[1 + g %% {len(town_ids)}]",
            "channel": "'online'",
            "status": "'signed'",
            "content": "'{}'::jsonb",
            "content_sha256": "repeat('0', 64)",
            "statements_accepted": "true",
            "signed_at": f"'{(now - dt.timedelta(days=30)).isoformat()}'::timestamptz"
            " + (g * interval '2 seconds')",
        }
        columns, values, params = [], [], []
        for field in Pledge._meta.concrete_fields:
            if field.primary_key:
                continue
            columns.append(field.column)
            if field.attname in explicit:
                values.append(explicit[field.attname])
            elif field.null:
                values.append("NULL")
            else:
                values.append("%s")
                params.append(field.get_db_prep_save(field.get_default(), connection))
        matters_sql = (
            "SELECT row_number() OVER (ORDER BY m.id) - 1 AS k, m.id AS matter_id,"
            " t.id AS template_id FROM pledges_matter m"
            " JOIN pledges_pledgetemplate t ON t.matter_id = m.id AND t.version = 1"
            " WHERE m.code LIKE 'BENCH-%%'"
        )
        persons_sql = (
            "SELECT row_number() OVER (ORDER BY id) - 1 AS k, id AS person_id"
            " FROM accounts_person WHERE id_hash LIKE 'bench%%'"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO pledges_pledge ({', '.join(columns)})"
                f" SELECT {', '.join(values)} FROM generate_series(1, {PLEDGES}) g"
                f" JOIN ({matters_sql}) mt ON mt.k = g %% {MATTERS}"
                f" JOIN ({persons_sql}) pp ON pp.k = g %% {PERSONS}",
                params,
            )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE pledges_pledge")


def plans():
    from pledges.models import Matter
    from verification import services
    from verification.models import SpotCheckPlan

    big = SpotCheckPlan.objects.filter(name="bench: high risk").first()
    if big is None:
        big = services.plan_save(
            plan=SpotCheckPlan(name="bench: high risk", risk_level=RISK, ratio=RATIO, minimum=1)
        )
    small = SpotCheckPlan.objects.filter(name="bench: one matter").first()
    if small is None:
        small = services.plan_save(
            plan=SpotCheckPlan(
                name="bench: one matter",
                matter=Matter.objects.get(code=SMALL_MATTER),
                ratio=RATIO,
                minimum=1,
                active=False,  # keeps its matter in the big plan's population, as measured
            )
        )
    return big, small


def reset() -> None:
    """Undo draws: tasks and draws gone, pledges signed again, plans without a cutoff."""
    from django.db import connection

    from verification.models import Draw

    for draw in Draw.objects.exclude(population_file=""):
        draw.population_file.delete(save=False)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM verification_checktask")
        cursor.execute("DELETE FROM verification_draw")
        cursor.execute("UPDATE pledges_pledge SET status = 'signed' WHERE status <> 'signed'")
        cursor.execute("UPDATE verification_spotcheckplan SET last_cutoff = NULL")
        cursor.execute("VACUUM ANALYZE pledges_pledge")
        cursor.execute("VACUUM ANALYZE verification_checktask")


# ---- the baseline -------------------------------------------------------------------------------

BASELINE = """
WITH pop AS (
  SELECT p.id, p.number, p.matter_id AS stratum,
         CASE WHEN p.person_id IN (SELECT r.person_id FROM credit_creditrecord r
                                   WHERE r.state NOT IN ('pending_review', 'annulled'))
              THEN 2.0::float8 ELSE 1.0::float8 END AS w
  FROM pledges_pledge p
  WHERE p.matter_id = ANY(%(matters)s) AND p.status IN ('signed', 'decided')
    AND p.signed_at <= %(cutoff)s
), ranked AS (
  SELECT pop.*,
    -ln(((('x' || substr(encode(sha256(convert_to(%(seed)s || pop.number, 'UTF8')), 'hex'),
                         1, 13))::bit(52)::bigint)::float8 + 0.5::float8)
        / 4503599627370496::float8) / w AS rank
  FROM pop OFFSET 0
), numbered AS (
  SELECT ranked.*,
    row_number() OVER (PARTITION BY stratum ORDER BY rank, number COLLATE "C") AS rn,
    count(*) OVER (PARTITION BY stratum) AS n
  FROM ranked
), sample AS (
  SELECT n.id, n.rank, n.n, p.matter_id, p.clerk_id, p.applicant_town_id AS town_id,
         p.person_id, p.status,
         encode(sha256(convert_to(%(seed)s || n.number, 'UTF8')), 'hex') AS h
  FROM numbered n CROSS JOIN LATERAL (
    SELECT * FROM pledges_pledge pp WHERE pp.id = n.id) p
  WHERE n.rn <= GREATEST(1, (%(ppm)s * n.n + 999999) / 1000000)
), officers AS (
  SELECT u.id, u.unit_id, u.person_id FROM accounts_user u
  JOIN accounts_user_groups ug ON ug.user_id = u.id
  JOIN auth_group g ON g.id = ug.group_id
  WHERE g.name = 'verification_officer' AND u.is_active
), cand AS (
  SELECT s.id AS pid, o.id AS oid,
    row_number() OVER (PARTITION BY s.id ORDER BY o.id) - 1 AS opos,
    count(*) OVER (PARTITION BY s.id) AS ocount
  FROM sample s JOIN officers o
    ON (s.clerk_id IS NULL OR o.id <> s.clerk_id)
   AND (s.town_id IS NULL OR o.unit_id IS NULL OR o.unit_id <> s.town_id)
   AND (o.person_id IS NULL OR o.person_id <> s.person_id)
)
INSERT INTO verification_checktask (origin, draw_id, pledge_id, matter_id, method, lead_id,
  second_id, drawn_lead_id, drawn_second_id, status, status_before, due_date, rank,
  stratum_size, seed, created_at)
SELECT 'draw', %(draw)s, s.id, s.matter_id, 'written', c.oid, NULL, c.oid, NULL, 'open',
  s.status, %(due)s, s.rank, s.n, '', now()
FROM sample s
LEFT JOIN cand c ON c.pid = s.id
  AND c.opos = ('x' || substr(s.h, 14, 13))::bit(52)::bigint %% c.ocount
"""


def run_baseline(plan, cutoff) -> tuple[float, int]:
    """The hand-written statement in its own transaction, committed like the draw's, timed
    from its start to the commit; its tasks are deleted afterwards."""
    from django.db import connection, transaction
    from django.utils import timezone

    from pledges.models import Matter
    from verification import conf
    from verification.models import CheckTask, Draw

    draw = Draw.objects.create(
        plan=plan,
        cutoff=cutoff,
        trigger="manual",
        seed="0" * 64,
        algorithm_version="baseline",
        ratio=plan.ratio,
        minimum=1,
        credit_weight=2,
        population_sha256="",
        population_count=0,
        drawn_count=0,
        result_sha256="",
    )
    params = {
        "seed": secrets.token_hex(32),
        "matters": list(Matter.objects.filter(risk_level=RISK).values_list("id", flat=True)),
        "cutoff": cutoff,
        "ppm": 50_000,
        "draw": draw.pk,
        "due": timezone.localdate() + dt.timedelta(days=28),
    }
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        # The same memory for sorting as the draw gets.
        cursor.execute("SELECT set_config('work_mem', %s, true)", [conf.draw_work_mem()])
        cursor.execute(BASELINE, params)
        rows = cursor.rowcount
    elapsed = time.perf_counter() - started
    CheckTask.objects.filter(draw=draw).delete()
    draw.delete()
    return elapsed, rows


def run_draw(plan, cutoff):
    from verification import services

    started = time.perf_counter()
    draw = services.draw_execute(plan=plan, cutoff=cutoff)
    return time.perf_counter() - started, draw


# ---- memory, in a child process -----------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``; unlike ``ru_maxrss`` it is not
    inherited from the parent across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(database_url: str, plan_name: str) -> None:
    setup(database_url, migrate=False)
    from django.utils import timezone

    from verification import services
    from verification.models import SpotCheckPlan

    plan = SpotCheckPlan.objects.get(name=plan_name)
    SpotCheckPlan.objects.filter(pk=plan.pk).update(active=True)
    plan.refresh_from_db()
    before = peak_rss_mb()
    tracemalloc.start()
    started = time.perf_counter()
    draw = services.draw_execute(plan=plan, cutoff=timezone.now())
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after = peak_rss_mb()
    if plan_name == "bench: one matter":
        SpotCheckPlan.objects.filter(pk=plan.pk).update(active=False)
    print(
        json.dumps(
            {
                "population": draw.population_count,
                "drawn": draw.drawn_count,
                "seconds": elapsed,
                "rss_before_mb": before,
                "rss_peak_mb": after,
                "tracemalloc_peak_mb": peak / 1024 / 1024,
            }
        )
    )


def measure_memory(database_url: str, plan_name: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--database-url", database_url, "--child", plan_name],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def machine() -> str:
    from django.db import connection

    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL {pg}, "
        f"load {os.getloadavg()[0]:.1f}, {dt.datetime.now():%Y-%m-%d %H:%M}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.database_url, args.child)
        return 0
    setup(args.database_url)
    from django.utils import timezone

    fill()
    big, _small = plans()
    reset()
    print(f"machine: {machine()}")
    baseline_times, draw_times, ratios = [], [], []
    for run in range(args.repeat):
        cutoff = timezone.now()
        order = ("baseline", "draw") if run % 2 == 0 else ("draw", "baseline")
        pair = {}
        for which in order:
            if which == "baseline":
                seconds, rows = run_baseline(big, cutoff)
                print(f"  run {run + 1} baseline: {seconds:.2f} s, {rows} tasks", flush=True)
            else:
                seconds, draw = run_draw(big, cutoff)
                print(
                    f"  run {run + 1} draw:     {seconds:.2f} s, {draw.drawn_count} of "
                    f"{draw.population_count} drawn",
                    flush=True,
                )
                reset()
            pair[which] = seconds
        baseline_times.append(pair["baseline"])
        draw_times.append(pair["draw"])
        ratios.append(pair["draw"] / pair["baseline"])
    # Each run is a back-to-back pair in alternating order; on a shared machine the median of
    # the pairs' ratios is the figure least moved by other work running at the same time.
    ratio = statistics.median(ratios)
    print(
        f"ratio (median of {len(ratios)} paired runs): {ratio:.2f}x (target <= 1.5x); "
        f"median times: draw {statistics.median(draw_times):.2f} s, baseline "
        f"{statistics.median(baseline_times):.2f} s "
        f"({statistics.median(draw_times) / statistics.median(baseline_times):.2f}x); "
        f"fastest: draw {min(draw_times):.2f} s, baseline {min(baseline_times):.2f} s "
        f"({min(draw_times) / min(baseline_times):.2f}x)"
    )

    memory_big = measure_memory(args.database_url, big.name)
    reset()
    memory_small = measure_memory(args.database_url, "bench: one matter")
    reset()
    for label, mem in (("1,000,000 pledges", memory_big), ("5,000 pledges", memory_small)):
        print(
            f"memory, {label}: peak RSS {mem['rss_peak_mb']:.0f} MB (before the draw "
            f"{mem['rss_before_mb']:.0f} MB), tracemalloc peak {mem['tracemalloc_peak_mb']:.1f} MB,"
            f" {mem['drawn']} of {mem['population']} drawn in {mem['seconds']:.2f} s"
        )
    ok = ratio <= 1.5 and memory_big["rss_peak_mb"] < 200
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
