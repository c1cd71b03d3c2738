"""Eligibility benchmark: ``credit.selectors.eligibility_for`` against a primary-key lookup.

    .venv/bin/python bench/credit_eligibility.py [--database-url URL] [--calls 2000] [--rounds 7]

On PostgreSQL (``bench_credit``, see ``credit_common``) with 100,000 persons, 150,000 credit
records and 1,000,000 ledger events, in one process, alternating each round:

- **baseline**: a single primary-key lookup of the same three columns on the same database
  through the same path, a Django cursor per lookup: ``SELECT kind, publication_ends_on,
  repair_possible_on FROM credit_creditrecord WHERE id = %s``;
- **eligibility**: ``eligibility_for(person)`` for random persons (with and without blocking
  records), what signing asks before every pledge: one lookup of the person's pledging block
  by primary key, the answer (reason, until, how to restore) built;
- for reference, the same primary-key lookup through the ORM
  (``CreditRecord.objects.filter(pk=…).values_list(…).first()``), whose query compilation
  costs more than the round trip itself.

Prints the median time per call of each over the rounds and the ratios. Target: eligibility
within 2× the baseline (the cursor lookup, the stricter of the two). Exit status 0 when met,
1 when missed.
"""

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import credit_common  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=credit_common.DEFAULT_URL)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    credit_common.setup(args.database_url)
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Person
    from credit.models import CreditRecord, LedgerEntry
    from credit.selectors import eligibility_for

    print("Filling (once):", flush=True)
    credit_common.people_and_records()
    credit_common.ledger_extend(credit_common.EVENTS)

    rng = random.Random(7)
    people = [Person(pk=rng.randrange(1, credit_common.PEOPLE + 1)) for _ in range(args.calls)]
    max_record = CreditRecord.objects.order_by("-pk").values_list("pk", flat=True).first()
    record_ids = [rng.randrange(1, max_record + 1) for _ in range(args.calls)]
    blocked = sum(not eligibility_for(p).eligible for p in people)

    table = CreditRecord._meta.db_table
    pk_sql = f"SELECT kind, publication_ends_on, repair_possible_on FROM {table} WHERE id = %s"

    def baseline():
        for pk in record_ids:
            with connection.cursor() as cursor:
                cursor.execute(pk_sql, [pk])
                cursor.fetchone()

    def orm_lookup():
        for pk in record_ids:
            CreditRecord.objects.filter(pk=pk).values_list(
                "kind", "publication_ends_on", "repair_possible_on"
            ).first()

    def eligibility():
        for person in people:
            eligibility_for(person)

    works = [("baseline", baseline), ("eligibility", eligibility), ("orm", orm_lookup)]
    for _name, work in works:  # warm caches and connections
        work()
    times = {name: [] for name, _work in works}
    for index in range(args.rounds):
        for name, work in works if index % 2 == 0 else reversed(works):
            reset_queries()
            started = time.perf_counter()
            work()
            times[name].append((time.perf_counter() - started) / args.calls * 1e6)

    with connection.cursor() as cursor:
        person = next(p for p in people if not eligibility_for(p).eligible)
        with CaptureQueriesContext(connection) as captured:
            eligibility_for(person)
        cursor.execute("EXPLAIN ANALYZE " + captured[0]["sql"])
        plan = "\n".join("    " + row[0] for row in cursor.fetchall())

    base = statistics.median(times["baseline"])
    elig = statistics.median(times["eligibility"])
    orm = statistics.median(times["orm"])
    ratio = elig / base
    counts = (
        Person.objects.count(),
        CreditRecord.objects.count(),
        LedgerEntry.objects.count(),
    )
    print(f"Machine: {credit_common.machine()}")
    print(f"Data: {counts[0]:,} persons, {counts[1]:,} records, {counts[2]:,} ledger events")
    print(f"Calls: {args.calls:,} per round × {args.rounds} rounds; {blocked:,} of the sampled")
    print("       persons are blocked")
    print(f"Primary-key lookup, cursor (baseline): {base:8.1f} µs per call (median of rounds)")
    print(f"eligibility_for:                       {elig:8.1f} µs per call")
    print(f"Primary-key lookup, ORM (reference):   {orm:8.1f} µs per call")
    print(f"Ratio: {ratio:.2f}× the baseline (target ≤ 2×); {elig / orm:.2f}× the ORM lookup")
    print("Plan of one blocked person's query:")
    print(plan)
    return 0 if ratio <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
