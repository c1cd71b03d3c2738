"""Run the benchmarks one after another: ``make bench`` or ``.venv/bin/python bench/run.py``.

    .venv/bin/python bench/run.py                 # every benchmark, each with its defaults
    .venv/bin/python bench/run.py print sign      # only these
    .venv/bin/python bench/run.py --list          # names and what each needs

Each benchmark measures its figure beside its own baseline in the same run and exits 1 when
it misses its target, so this script exits 1 when any of them does (2 when one broke). The
PostgreSQL benchmarks need the server at 127.0.0.1:5432 (``--database-url`` of each script
to change); the signing benchmark uses ``wrk`` when installed. Figures go to stdout; the
published ones are in bench/RESULTS.md.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> (script, what it needs, what it measures)
BENCHMARKS = {
    "print": ("print_bench.py", "nothing", "two-copy form: render, re-print, memory, size"),
    "sign": ("sign_bench.py", "PostgreSQL, gunicorn", "signing API vs a bare DRF insert"),
    "eligibility": ("credit_eligibility.py", "PostgreSQL", "eligibility vs a primary-key read"),
    "ledger": ("credit_ledger.py", "PostgreSQL", "verify_ledger vs a bare hashing loop"),
    "draw": ("draw_bench.py", "PostgreSQL", "5 % draw over 1,000,000 pledges vs one SQL"),
    "import": ("import_bench.py", "nothing", "50,000-row list import vs bare openpyxl"),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and stop")
    args = parser.parse_args(argv)
    if args.list:
        for name, (script, needs, what) in BENCHMARKS.items():
            print(f"{name:12} bench/{script:24} needs {needs:22} {what}")
        return 0
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark: {', '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    worst = 0
    for name in args.names or list(BENCHMARKS):
        script = BENCHMARKS[name][0]
        print(f"\n==> {name}: bench/{script}", flush=True)
        started = time.monotonic()
        status = subprocess.call([sys.executable, str(ROOT / "bench" / script)], cwd=ROOT)
        print(f"<== {name}: exit {status} after {time.monotonic() - started:.0f} s", flush=True)
        worst = max(worst, min(status, 2))
    return worst


if __name__ == "__main__":
    sys.exit(main())
