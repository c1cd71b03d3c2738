"""Ledger benchmark: ``verify_ledger`` against a bare loop over the same rows, and its memory.

    .venv/bin/python bench/credit_ledger.py [--database-url URL] [--rounds 4]

On PostgreSQL (``bench_credit``, see ``credit_common``), in one process, alternating (the
order swapped every round):

1. **Speed.** ``credit.ledger.verify()`` (what ``manage.py verify_ledger`` runs: chain links,
   hashes, checkpoints, the signed head) over 1,000,000 events, alternating with the
   baseline: a bare loop that streams the same rows from the same database (a server-side
   cursor, the same chunk size) and hashes each with hashlib, checking nothing. Target: verify
   runs at least 0.5× the baseline's speed (events per second).
2. **Memory.** Peak Python allocations (tracemalloc) during one verification at 100,000
   events and again at 1,000,000 events, plus the process's resident set size. Target: flat,
   the peak at 1,000,000 within 1.5× of the peak at 100,000 (not ten times).

Exit status 0 when both targets are met, 1 when one is missed.
"""

import argparse
import hashlib
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import credit_common  # noqa: E402

SMALL = 100_000


def bare_loop(chunk_size: int) -> int:
    """Stream every row and hash it the same way, checking nothing."""
    from django.db import transaction

    from credit.ledger import stream_rows

    sha256 = hashlib.sha256
    count = 0
    with transaction.atomic():
        for seq, prev_hash, event, _digest in stream_rows(chunk_size=chunk_size):
            sha256(f"{seq}\n{prev_hash}\n{event}".encode()).hexdigest()
            count += 1
    return count


def peak_of(work) -> tuple[float, object]:
    tracemalloc.start()
    try:
        result = work()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1024 / 1024, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=credit_common.DEFAULT_URL)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    credit_common.setup(args.database_url)
    from credit import conf, ledger

    chunk = conf.verify_chunk_size()

    # Memory at 100,000 events, then at 1,000,000 (the same chain, grown).
    print("Filling:", flush=True)
    credit_common.ledger_reset()
    credit_common.ledger_extend(SMALL)
    peak_small, result = peak_of(ledger.verify)
    assert result.ok and result.checked == SMALL, result
    rss_small = credit_common.rss_mb()
    credit_common.ledger_extend(credit_common.EVENTS)
    peak_large, result = peak_of(ledger.verify)
    assert result.ok and result.checked == credit_common.EVENTS, result
    rss_large = credit_common.rss_mb()

    times = {"bare": [], "verify": []}

    def run_bare():
        assert bare_loop(chunk) == credit_common.EVENTS

    def run_verify():
        result = ledger.verify()
        assert result.ok, result

    for index in range(args.rounds):
        order = [("bare", run_bare), ("verify", run_verify)]
        for name, work in order if index % 2 == 0 else reversed(order):
            started = time.perf_counter()
            work()
            times[name].append(time.perf_counter() - started)

    bare = statistics.median(times["bare"])
    verify = statistics.median(times["verify"])
    speed = bare / verify
    growth = peak_large / peak_small
    n = credit_common.EVENTS
    print(f"Machine: {credit_common.machine()}")
    print(f"Events: {n:,}; chunk size {chunk:,}; {args.rounds} rounds, alternating")
    print(f"Bare stream + hashlib: {bare:6.2f} s ({n / bare:10,.0f} events/s, median)")
    print(f"verify_ledger:         {verify:6.2f} s ({n / verify:10,.0f} events/s, median)")
    print(f"Speed: {speed:.2f}× the bare loop (target ≥ 0.5×)")
    print(
        f"Peak Python memory of one verification: {peak_small:.2f} MB at {SMALL:,} events, "
        f"{peak_large:.2f} MB at {n:,} ({growth:.2f}×; target ≤ 1.5×)"
    )
    print(f"Process RSS after each: {rss_small:.0f} MB, {rss_large:.0f} MB")
    return 0 if speed >= 0.5 and growth <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
