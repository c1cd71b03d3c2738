"""The public draw algorithm: sample sizes, the reference implementation, and the same draw in
SQL on SQLite and PostgreSQL for the same seed and population."""

import hashlib
import math
import os
import sqlite3
from collections import Counter

import pytest

from verification import sampling
from verification.sampling import Member


def seed_for(i: int) -> str:
    """Deterministic seeds, so the statistical tests give the same answer on every run."""
    return hashlib.sha256(f"test-seed-{i}".encode()).hexdigest()


SEED = seed_for(0)


# ---- sizes and the reference ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "ratio", "minimum", "k"),
    [
        (0, "0.10", 1, 0),
        (1, "0.01", 1, 1),
        (50, "0.10", 1, 5),
        (51, "0.10", 1, 6),  # ceil(5.1)
        (100, "0.02", 1, 2),
        (100, "0.02", 5, 5),  # the minimum wins
        (3, "0.30", 10, 3),  # never more than the stratum
        (40, "1", 1, 40),  # a high-risk matter checked in full
        (10, "0", 0, 0),
        (1_000_000, "0.05", 1, 50_000),
        (333, "0.015", 1, 5),  # ceil(4.995)
    ],
)
def test_sample_size_is_the_ratio_ceiling_or_the_minimum_within_the_stratum(n, ratio, minimum, k):
    ppm = sampling.ratio_to_ppm(ratio)
    assert sampling.sample_size(n, ratio_ppm=ppm, minimum=minimum) == k


def test_ratio_outside_zero_and_one_is_refused():
    with pytest.raises(ValueError):
        sampling.ratio_to_ppm("1.5")


def test_rank_follows_the_published_formula():
    h = sampling.digest(SEED, "CN-2026-000001")
    assert h == hashlib.sha256(f"{SEED}CN-2026-000001".encode()).hexdigest()
    u = (int(h[:13], 16) + 0.5) / 2**52
    assert 0 < u < 1
    assert sampling.rank_from_hex(h, 1.0) == -math.log(u)
    assert sampling.rank_from_hex(h, 2.0) == -math.log(u) / 2


def test_weight_text_is_canonical():
    assert sampling.weight_text("2.00") == "2"
    assert sampling.weight_text("1.50") == "1.5"
    assert sampling.weight_text(1) == "1"


def population(strata: dict[str, int], *, heavy: set[str] = frozenset(), weight=2.0):
    members = []
    counter = 0
    for stratum, size in strata.items():
        for _ in range(size):
            counter += 1
            number = f"CN-2026-{counter:06d}"
            members.append(Member(number, stratum, weight if number in heavy else 1.0))
    return members


def test_reference_draws_the_k_lowest_ranks_of_each_stratum():
    members = population({"A": 50, "B": 5, "C": 1})
    drawn = sampling.draw_reference(SEED, members, ratio_ppm=100_000, minimum=1)
    assert {s: len(v) for s, v in drawn.items()} == {"A": 5, "B": 1, "C": 1}
    for stratum, numbers in drawn.items():
        ranks = sorted(
            (sampling.rank_from_hex(sampling.digest(SEED, m.number), m.weight), m.number)
            for m in members
            if m.stratum == stratum
        )
        assert numbers == [number for _rank, number in ranks[: len(numbers)]]


def test_another_seed_draws_another_sample():
    members = population({"A": 200})
    first = sampling.draw_reference(seed_for(1), members, ratio_ppm=50_000, minimum=1)
    second = sampling.draw_reference(seed_for(2), members, ratio_ppm=50_000, minimum=1)
    assert first != second


def test_replay_file_streams_the_population_and_matches_the_reference(tmp_path):
    members = population({"A": 120, "B": 30}, heavy={"CN-2026-000007"})
    path = tmp_path / "population.tsv"
    with open(path, "w", encoding="utf-8") as handle:
        for m in sorted(members, key=lambda m: m.number):
            handle.write(sampling.format_line(m.number, m.stratum, sampling.weight_text(m.weight)))
    sha, count, sizes, drawn = sampling.replay_file(path, SEED, ratio_ppm=100_000, minimum=1)
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    assert count == 150
    assert sizes == {"A": 120, "B": 30}
    assert drawn == sampling.draw_reference(SEED, members, ratio_ppm=100_000, minimum=1)


def test_officer_positions_skip_nobody_twice_and_need_two_for_a_second():
    h = sampling.digest(SEED, "CN-2026-000001")
    assert sampling.officer_positions(h, 0, second=True) == (None, None)
    assert sampling.officer_positions(h, 1, second=True)[1] is None
    for m in range(2, 9):
        lead, second = sampling.officer_positions(h, m, second=True)
        assert 0 <= lead < m and 0 <= second < m and lead != second


# ---- the same draw in SQL -------------------------------------------------------------------

CREATE = (
    "CREATE {temp} TABLE population (member_id INTEGER, number VARCHAR(20), stratum VARCHAR(32),"
    " weight {float})"
)
BASE = "SELECT member_id, number, stratum, weight FROM population"


def _ordered(rows) -> dict[str, list[str]]:
    drawn: dict[str, list] = {}
    for stratum, _rank, number in sorted(rows, key=lambda r: (r[0], r[1], r[2])):
        drawn.setdefault(stratum, []).append(number)
    return drawn


def sqlite_draw(seed, members, *, ratio_ppm, minimum):
    """Run the draw's SQL on a fresh in-memory SQLite with the registered functions."""
    connection = sqlite3.connect(":memory:")
    sampling.register_sqlite_functions(connection)
    connection.execute(CREATE.format(temp="", float="REAL"))
    connection.executemany(
        "INSERT INTO population VALUES (?, ?, ?, ?)",
        [(i, m.number, m.stratum, m.weight) for i, m in enumerate(members)],
    )
    sql = sampling.sample_sql(sampling.dialect_for("sqlite"), BASE).replace("%s", "?")
    params = sampling.sample_params(seed, [], minimum=minimum, ratio_ppm=ratio_ppm)
    rows = connection.execute(f"SELECT stratum, rank, number FROM ({sql}) drawn", params).fetchall()
    connection.close()
    return _ordered(rows), {number: rank for _s, rank, number in rows}


def postgres_conninfo() -> dict | None:
    """When ``DATABASE_URL`` points to PostgreSQL: how to reach the test database."""
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        return None
    from django.db import connection

    settings = connection.settings_dict
    return {
        "dbname": settings["NAME"],
        "user": settings.get("USER") or None,
        "password": settings.get("PASSWORD") or None,
        "host": settings.get("HOST") or None,
        "port": settings.get("PORT") or None,
    }


def postgres_draw(conninfo, seed, members, *, ratio_ppm, minimum):
    """The same SQL on PostgreSQL (its built-in ``sha256()``), through psycopg directly."""
    import psycopg

    conninfo = {k: v for k, v in conninfo.items() if v is not None}
    with psycopg.connect(**conninfo, autocommit=False) as connection:
        connection.execute(CREATE.format(temp="TEMP", float="double precision"))
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO population VALUES (%s, %s, %s, %s)",
                [(i, m.number, m.stratum, m.weight) for i, m in enumerate(members)],
            )
            sql = sampling.sample_sql(sampling.dialect_for("postgresql"), BASE)
            params = sampling.sample_params(seed, [], minimum=minimum, ratio_ppm=ratio_ppm)
            cursor.execute(f"SELECT stratum, rank, number FROM ({sql}) drawn", params)
            rows = cursor.fetchall()
        connection.rollback()
    return _ordered(rows), {number: rank for _s, rank, number in rows}


def reference_ranks(seed, members, drawn):
    chosen = {n for numbers in drawn.values() for n in numbers}
    return {
        m.number: sampling.rank_from_hex(sampling.digest(seed, m.number), m.weight)
        for m in members
        if m.number in chosen
    }


CASES = [
    ("equal weights", population({"A": 300, "B": 40, "C": 2}), 20_000, 1),
    (
        "credit history weighs double",
        population({"A": 300, "B": 40}, heavy={f"CN-2026-{i:06d}" for i in range(1, 340, 3)}),
        100_000,
        2,
    ),
    ("everything", population({"A": 25}), 1_000_000, 1),
]


@pytest.mark.parametrize(("label", "members", "ppm", "minimum"), CASES, ids=[c[0] for c in CASES])
def test_sqlite_sql_draws_what_the_reference_draws(label, members, ppm, minimum):
    for i in range(5):
        seed = seed_for(100 + i)
        expected = sampling.draw_reference(seed, members, ratio_ppm=ppm, minimum=minimum)
        drawn, ranks = sqlite_draw(seed, members, ratio_ppm=ppm, minimum=minimum)
        assert drawn == expected
        assert ranks == reference_ranks(seed, members, expected)


@pytest.mark.postgres_only
@pytest.mark.parametrize(("label", "members", "ppm", "minimum"), CASES, ids=[c[0] for c in CASES])
def test_same_draw_on_sqlite_and_postgresql_for_the_same_seed_and_population(
    db, label, members, ppm, minimum
):
    """On CI's PostgreSQL run this compares PostgreSQL, SQLite and the reference; on the
    SQLite run (no PostgreSQL configured) it compares SQLite with the reference."""
    seed = seed_for(7)
    results = {"reference": sampling.draw_reference(seed, members, ratio_ppm=ppm, minimum=minimum)}
    ranks = {"reference": reference_ranks(seed, members, results["reference"])}
    results["sqlite"], ranks["sqlite"] = sqlite_draw(seed, members, ratio_ppm=ppm, minimum=minimum)
    url = postgres_conninfo()
    if url:
        results["postgresql"], ranks["postgresql"] = postgres_draw(
            url, seed, members, ratio_ppm=ppm, minimum=minimum
        )
    assert len(results) == (3 if url else 2)
    first = results["reference"]
    assert sum(len(v) for v in first.values()) > 0
    for backend, drawn in results.items():
        assert drawn == first, backend
        # The ranks themselves agree to the last bit, not just their order.
        assert ranks[backend] == ranks["reference"], backend


# ---- statistics -------------------------------------------------------------------------------

# Chi-square critical values at p = 0.001.
CHI2_999 = {9: 27.877, 4: 18.467}


def chi_square(observed: Counter, expected: dict) -> float:
    return sum((observed[key] - e) ** 2 / e for key, e in expected.items())


@pytest.mark.statistical
def test_with_equal_weights_every_pledge_is_equally_likely_to_be_drawn():
    members = population({"A": 10})
    runs = 3000
    counts: Counter = Counter()
    connection = sqlite3.connect(":memory:")
    sampling.register_sqlite_functions(connection)
    connection.execute(CREATE.format(temp="", float="REAL"))
    connection.executemany(
        "INSERT INTO population VALUES (?, ?, ?, ?)",
        [(i, m.number, m.stratum, m.weight) for i, m in enumerate(members)],
    )
    sql = sampling.sample_sql(sampling.dialect_for("sqlite"), BASE).replace("%s", "?")
    for i in range(runs):
        params = sampling.sample_params(seed_for(1000 + i), [], minimum=1, ratio_ppm=300_000)
        for (number,) in connection.execute(f"SELECT number FROM ({sql}) d", params):
            counts[number] += 1
    connection.close()
    assert sum(counts.values()) == runs * 3
    expected = {m.number: runs * 3 / 10 for m in members}
    assert chi_square(counts, expected) < CHI2_999[9], counts


@pytest.mark.statistical
def test_a_heavier_weight_is_drawn_in_proportion_to_its_weight():
    """Drawing one of 2 pledges of weight 2 and 3 of weight 1: each heavy one is drawn with
    probability 2/7, each light one 1/7 (the Efraimidis–Spirakis property)."""
    members = population({"A": 5}, heavy={"CN-2026-000001", "CN-2026-000002"})
    runs = 7000
    counts: Counter = Counter()
    for i in range(runs):
        drawn = sampling.draw_reference(seed_for(50_000 + i), members, ratio_ppm=0, minimum=1)
        counts.update(drawn["A"])
    expected = {m.number: runs * m.weight / 7 for m in members}
    assert chi_square(counts, expected) < CHI2_999[4], counts
