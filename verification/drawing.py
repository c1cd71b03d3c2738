"""The draw in the database: the population as SQL, its file streamed out, the sample and
its tasks written by one INSERT … SELECT. Called by ``services.draw_execute`` inside its
transaction; nothing here commits.

The population is never loaded into Python: PostgreSQL streams it with ``COPY … TO STDOUT``
(SQLite through a cursor, in batches) straight into a file while hashing it, and the sample
is computed and inserted by the database (:mod:`verification.sampling`).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Case, CharField, F, FloatField, Value, When
from django.db.models.functions import Cast

from pledges.lifecycle import CHECKABLE
from pledges.models import Matter, Pledge, VerificationMethod

from . import sampling
from .models import CheckTask


@dataclass(frozen=True)
class Population:
    """The population of a draw as two SELECTs over the same pledges.

    ``rank_sql``: ``member_id, number, stratum, weight`` with the matter's id as the stratum,
    narrow, for ranking. ``file_sql``: ``number, stratum, weight_text`` with the matter's code,
    for the population file. Each with its parameters.
    """

    rank_sql: str
    rank_params: tuple
    file_sql: str
    file_params: tuple


#: Credit records that are no history of dishonesty: drafts not decided yet, and annulled ones.
NO_HISTORY_STATES = ("pending_review", "annulled")


def credit_history_persons():
    """Person ids with a credit history (a record confirmed at some point: confirmed, under
    objection, repaired or expired), as a subquery, read through ``credit.selectors``."""
    from credit import selectors as credit_selectors

    return (
        credit_selectors.record_list()
        .exclude(state__in=NO_HISTORY_STATES)
        .order_by()
        .values("person_id")
    )


def plan_matters(plan):
    """The matters a plan covers: its matter, or its risk level's matters without a plan of
    their own (so one pledge is never in two plans' populations)."""
    if plan.matter_id:
        return Matter.objects.filter(pk=plan.matter_id)
    from .models import SpotCheckPlan

    own = SpotCheckPlan.objects.filter(active=True, matter__isnull=False).values("matter_id")
    return Matter.objects.filter(risk_level=plan.risk_level).exclude(pk__in=own)


def population(plan, *, start, cutoff, credit_weight) -> Population:
    """The population of a draw: the plan's pledges signed after ``start`` up to ``cutoff``
    that can be checked (signed or decided), each weighted by its person's credit history."""
    # The matters' ids as a list: PostgreSQL then scans the pledges once (a subquery or a join
    # on the matters led it to one index scan per matter, ten times slower at a million).
    matter_ids = sorted(plan_matters(plan).values_list("id", flat=True)) or [0]
    pledges = Pledge.objects.filter(
        matter_id__in=matter_ids, status__in=CHECKABLE, signed_at__lte=cutoff
    )
    if start is not None:
        pledges = pledges.filter(signed_at__gt=start)
    weight = Value(1.0)
    weight_text = Value("1")
    if credit_weight != 1:
        history = credit_history_persons()
        weight = Case(
            When(person_id__in=history, then=Value(float(credit_weight))),
            default=Value(1.0),
            output_field=FloatField(),
        )
        weight_text = Case(
            When(person_id__in=history, then=Value(sampling.weight_text(credit_weight))),
            default=Value("1"),
            output_field=CharField(),
        )
    ranked = pledges.order_by().values(
        "number",
        member_id=F("id"),
        stratum=F("matter_id"),
        weight=Cast(weight, FloatField()),
    )
    listed = pledges.order_by().values(
        "number",
        stratum=F("matter__code"),
        weight_text=Cast(weight_text, CharField()),
    )
    rank_sql, rank_params = ranked.query.sql_with_params()
    file_sql, file_params = listed.query.sql_with_params()
    return Population(rank_sql, tuple(rank_params), file_sql, tuple(file_params))


def dialect():
    return sampling.dialect_for(connection.vendor)


def write_population_file(pop: Population, handle) -> tuple[str, int]:
    """Stream ``number TAB stratum TAB weight`` lines, ordered by number, into ``handle``.

    Returns ``(sha256, count)``. Memory stays flat: a server-side cursor on PostgreSQL (a
    plain one on SQLite) hands the rows over ten thousand at a time.
    """
    # The database writes each line (one value per row is far cheaper to fetch than three).
    sql = (
        "SELECT base.number || %s || base.stratum || %s || base.weight_text || %s"
        f" FROM ({pop.file_sql}) base ORDER BY base.number{dialect().bytewise}"
    )
    sha = hashlib.sha256()
    count = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, ["\t", "\t", "\n", *pop.file_params])
        while rows := cursor.fetchmany(10_000):
            data = "".join([line for (line,) in rows]).encode()
            sha.update(data)
            handle.write(data)
            count += len(rows)
    return sha.hexdigest(), count


def result_digest(draw) -> str:
    """:func:`sampling.result_digest` of a draw's tasks, streamed in number order (a draw of
    every pledge must not load them all into Python)."""
    tasks = CheckTask._meta.db_table
    pledges = Pledge._meta.db_table
    sql = (
        f"SELECT p.number FROM {tasks} t JOIN {pledges} p ON p.id = t.pledge_id"
        f" WHERE t.draw_id = %s ORDER BY p.number{dialect().bytewise}"
    )
    sha = hashlib.sha256()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [draw.pk])
        while rows := cursor.fetchmany(10_000):
            sha.update("".join([f"{number}\n" for (number,) in rows]).encode())
    return sha.hexdigest()


def population_exists(pop: Population) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM ({pop.rank_sql}) base LIMIT 1", pop.rank_params)
        return cursor.fetchone() is not None


class PopulationWriter:
    """Writes the population file, in a thread of its own on PostgreSQL.

    The thread's connection imports the draw transaction's snapshot (``pg_export_snapshot``
    and ``SET TRANSACTION SNAPSHOT``, REPEATABLE READ, read only), so it reads exactly the
    rows the draw ranks, while the draw's own connection is busy with the sample. Without
    ``concurrent`` the file is written on the caller's connection when ``finish`` is called.
    """

    def __init__(self, pop: Population, handle, *, concurrent: bool):
        self.pop = pop
        self.handle = handle
        self.concurrent = concurrent
        self.result = None
        self.error = None
        self.thread = None

    def start(self) -> None:
        if not self.concurrent:
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
        self.thread = threading.Thread(
            target=self._run, args=(snapshot,), name="draw-population", daemon=True
        )
        self.thread.start()

    def _run(self, snapshot: str) -> None:
        from . import conf

        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
                cursor.execute("SELECT set_config('work_mem', %s, true)", [conf.draw_work_mem()])
                self.result = write_population_file(self.pop, self.handle)
        except BaseException as exc:  # handed to the draw's thread, which fails with it
            self.error = exc
        finally:
            connection.close()

    def finish(self) -> tuple[str, int]:
        """The file's ``(sha256, count)`` once it is complete."""
        if self.thread is None:
            return write_population_file(self.pop, self.handle)
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.result


def stratum_sizes(pop: Population) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT base.stratum, count(*) FROM ({pop.file_sql}) base GROUP BY base.stratum",
            pop.file_params,
        )
        return dict(cursor.fetchall())


def _officers_sql(officers) -> tuple[str, list]:
    if not officers:
        return (
            "SELECT CAST(NULL AS BIGINT) AS officer_id, CAST(NULL AS BIGINT) AS unit_id,"
            " CAST(NULL AS BIGINT) AS person_id WHERE 1 = 0",
            [],
        )
    parts, params = [], []
    for officer_id, unit_id, person_id in officers:
        parts.append(
            "SELECT CAST(%s AS BIGINT) AS officer_id, CAST(%s AS BIGINT) AS unit_id,"
            " CAST(%s AS BIGINT) AS person_id"
        )
        params += [officer_id, unit_id, person_id]
    return " UNION ALL ".join(parts), params


def _case(column: str, mapping: dict, default) -> tuple[str, list]:
    if not mapping:
        return "%s", [default]
    sql = [f"CASE {column}"]
    params = []
    for key, value in mapping.items():
        sql.append("WHEN %s THEN %s")
        params += [key, value]
    sql.append("ELSE %s END")
    params.append(default)
    return " ".join(sql), params


def insert_tasks(
    *,
    draw,
    pop: Population,
    officers: list,
    methods: dict[int, str],
    due_dates: dict[int, object],
    default_due,
    created_at,
) -> int:
    """Draw the sample and insert its check tasks with their officers: one statement.

    Only the drawn rows are joined back to the pledges (for the conflicts of interest and the
    state before the check), and their digest recomputed for the officer picks.
    """
    d = dialect()
    ops = connection.ops
    sample = sampling.sample_sql(d, pop.rank_sql)
    sample_params = sampling.sample_params(
        draw.seed,
        pop.rank_params,
        minimum=draw.minimum,
        ratio_ppm=sampling.ratio_to_ppm(draw.ratio),
    )
    officers_sql, officers_params = _officers_sql(officers)
    method_sql, method_params = _case("d.matter_id", methods, VerificationMethod.WRITTEN)
    due_sql, due_params = _case(
        "d.matter_id",
        {k: ops.adapt_datefield_value(v) for k, v in due_dates.items()},
        ops.adapt_datefield_value(default_due),
    )
    pledges = Pledge._meta.db_table
    table = CheckTask._meta.db_table
    # A second officer only where some matter is checked on site by two.
    seconds = draw.officers_onsite >= 2 and VerificationMethod.ONSITE in methods.values()
    second_join = (
        " LEFT JOIN cand c2 ON c2.member_id = p.member_id AND p.method = 'onsite'"
        " AND c2.ocount > 1 AND c2.opos = ((p.pa %% c2.ocount) + 1"
        " + (p.pb %% (CASE WHEN c2.ocount > 1 THEN c2.ocount - 1 ELSE 1 END))) %% c2.ocount"
        if seconds
        else ""
    )
    second_id = "c2.officer_id" if seconds else "NULL"
    # Only the drawn rows go back to the pledges, by primary key. PostgreSQL, expecting a far
    # larger sample than it gets, would hash-join the whole table unless told row by row.
    if connection.vendor == "postgresql":
        join_back = f"CROSS JOIN LATERAL (SELECT * FROM {pledges} pp WHERE pp.id = s.member_id) p"
    else:
        join_back = f"JOIN {pledges} p ON p.id = s.member_id"
    sql = (
        f"WITH sample AS ({sample}),"
        " drawn AS ("
        "SELECT s.member_id, s.rank, s.n, p.matter_id, p.clerk_id,"
        " p.applicant_town_id AS town_id, p.person_id, p.status,"
        f" {d.digest('%s', 's.number')} AS h"
        f" FROM sample s {join_back}"
        "),"
        f" officers AS ({officers_sql}),"
        " cand AS ("
        "SELECT s.member_id AS member_id, o.officer_id AS officer_id,"
        " row_number() OVER (PARTITION BY s.member_id ORDER BY o.officer_id) - 1 AS opos,"
        " count(*) OVER (PARTITION BY s.member_id) AS ocount"
        " FROM drawn s JOIN officers o ON"
        " (s.clerk_id IS NULL OR o.officer_id <> s.clerk_id)"
        " AND (s.town_id IS NULL OR o.unit_id IS NULL OR o.unit_id <> s.town_id)"
        " AND (o.person_id IS NULL OR o.person_id <> s.person_id)"
        "),"
        " picked AS ("
        "SELECT d.member_id, d.matter_id, d.status, d.rank, d.n,"
        f" {d.pick('d.h', 13)} AS pa, {d.pick('d.h', 26)} AS pb,"
        f" {method_sql} AS method, {due_sql} AS due_date"
        " FROM drawn d"
        ")"
        f" INSERT INTO {table} (origin, draw_id, pledge_id, matter_id, method, lead_id,"
        " second_id, drawn_lead_id, drawn_second_id, status, status_before, due_date, rank,"
        " stratum_size, seed, created_at)"
        " SELECT 'draw', %s, p.member_id, p.matter_id, p.method, c1.officer_id,"
        f" {second_id}, c1.officer_id, {second_id}, 'open', p.status, p.due_date, p.rank,"
        " p.n, '', %s"
        " FROM picked p"
        " LEFT JOIN cand c1 ON c1.member_id = p.member_id AND c1.opos = p.pa %% c1.ocount"
        f"{second_join}"
        " WHERE 1 = 1"
    )
    params = [
        *sample_params,
        draw.seed,
        *officers_params,
        *method_params,
        *due_params,
        draw.pk,
        ops.adapt_datetimefield_value(created_at),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
