"""Load test: a service hall's morning on gunicorn + PostgreSQL + Redis + 2 Celery workers.

    .venv/bin/python bench/load/run.py [--duration 60] [--web-workers 1,2] [--threads 4]
                                       [--signers 40 --sign-rate 5] [--out var/bench-load]

What it does (loopback only, bounded in time):

1. Recreates the PostgreSQL database ``bench_load`` (``--database-url``) and migrates it under
   ``bench.load.settings``: production settings (DEBUG off, persistent connections, JSON logs,
   throttles, the static manifest) plus the signing benchmark's bench-only app, with the verify
   page's per-address limit lifted (one loopback address stands for the whole public).
   Flushes its own Redis databases: the broker (``/11``) and the cache (``/12``).
2. Seeds through the signing benchmark's helpers (bench/sign_bench.py: residents with tokens,
   the matter ``BENCH-1``, the drawn-signature PNG) and ``bench/load/seed.py`` (a catalog
   with service guides, window clerks and pledges to print, verification officers and their
   check tasks, QR verify links).
3. Starts 2 Celery workers (``--pool solo``, one process each) and the outbox relay, then for
   each web configuration (``--web-workers``, default 1 then 2 gunicorn workers, gthread with
   ``--threads`` threads) serves the project on loopback and runs locust headless
   (bench/load/locustfile.py: signing, browsing, printing, findings, verifying) for
   ``--duration`` seconds, spawning included (every answer is counted, so the database can
   be checked against the counts). Each configuration gets its own share of the
   never-printed pledges and of the check tasks.
4. After each run: waits for the outbox and the broker queue to drain (every task that
   signing and findings dispatched has run), checks that the database holds exactly one
   pledge per 201 answer with gap-free numbers and one finding per 201, and records the CPU
   seconds used by each part (web, workers, locust, PostgreSQL backends of ``bench_load``).
5. Prints per action: requests per second, p50/p95/p99, failures; then signings per second
   and how throughput grew from the first configuration to the last. Writes the figures as
   JSON and Markdown to ``--out`` (git-ignored ``var/bench-load`` by default).

Goal (issue 8): 200 signings a second sustained, p99 under 300 ms while printing runs, no
error. Exit status 0 when the best configuration meets it, 1 when not, 2 when something broke
(a lost or duplicated pledge or finding, a queue that does not drain, a process that died).
"""

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.sign_bench import (  # noqa: E402
    PYTHON,
    bench_env,
    bodies,
    free_port,
    recreate_database,
    run_manage,
    setup_data,
    signature_png,
    start_gunicorn,
    stop,
)

HERE = Path(__file__).resolve().parent
BIN = Path(PYTHON).parent
TARGET_SIGN_RPS = 200
TARGET_P99_MS = 300
SIGN = "sign: POST /api/v1/pledges/"
PRINT = "print: first print (render)"
FINDING = "officer: record finding"

CHECK = """
import json
from pledges.models import Pledge
from verification.models import Finding
from core.models import OutboxMessage
numbers = sorted(
    int(n.rsplit("-", 1)[1])
    for n in Pledge.objects.filter(number__startswith="CN-2026-").values_list("number", flat=True)
)
print("LOAD-CHECK " + json.dumps({
    "online": Pledge.objects.filter(matter__code="BENCH-1", channel="online").count(),
    "numbers": len(numbers),
    "dense": numbers == list(range(1, len(numbers) + 1)),
    "findings": Finding.objects.count(),
    "outbox_unsent": OutboxMessage.objects.filter(sent_at__isnull=True).count(),
}))
"""


# ---- processes ----------------------------------------------------------------------------


def start(args: list[str], env: dict, log) -> subprocess.Popen:
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def process_cpu(groups: dict[str, int], database: str) -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) used so far by each process of the process groups, and by
    each PostgreSQL backend serving ``database`` (its process title names it), by pid."""
    tick = os.sysconf("SC_CLK_TCK")
    by_group = {pgid: name for name, pgid in groups.items()}
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        used = (int(fields[11]) + int(fields[12])) / tick
        name = by_group.get(int(fields[2]))
        if (
            name is None
            and cmdline.startswith(b"postgres:")
            and f" {database} ".encode() in cmdline
        ):
            name = "postgres"
        if name:
            found[int(entry.name)] = (name, used)
    return found


class CpuSampler(threading.Thread):
    """CPU seconds per part over a run, sampled every half second: backends come and go (a
    persistent connection is replaced after ``CONN_MAX_AGE``), so two snapshots would miss
    the CPU of those that ended in between."""

    def __init__(self, groups: dict[str, int], database: str):
        super().__init__(daemon=True)
        self.groups, self.database = dict(groups), database
        self.first = process_cpu(self.groups, database)
        self.last = dict(self.first)
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.5):
            self.last.update(process_cpu(self.groups, self.database))

    def stop(self) -> dict[str, float]:
        self.done.set()
        self.join()
        self.last.update(process_cpu(self.groups, self.database))
        totals = dict.fromkeys([*self.groups, "postgres"], 0.0)
        for pid, (name, used) in self.last.items():
            totals[name] += used - self.first.get(pid, (name, 0.0))[1]
        return totals


def redis_flush(*urls: str) -> None:
    import redis

    for url in urls:
        redis.Redis.from_url(url).flushdb()


def queue_length(broker: str) -> int:
    import redis

    client = redis.Redis.from_url(broker)
    return sum(client.llen(name) for name in client.scan_iter("*") if client.type(name) == b"list")


def database_state(env: dict) -> dict:
    output = run_manage(env, "shell", "--no-imports", "-c", CHECK)
    line = next(line for line in output.splitlines() if line.startswith("LOAD-CHECK "))
    return json.loads(line.removeprefix("LOAD-CHECK "))


def drain(env: dict, broker: str, timeout: float = 120) -> tuple[float, dict]:
    """Wait until the outbox has sent everything and the broker's queues are empty."""
    started = time.monotonic()
    while True:
        state = database_state(env)
        if state["outbox_unsent"] == 0 and queue_length(broker) == 0:
            return time.monotonic() - started, state
        if time.monotonic() - started > timeout:
            state["queue"] = queue_length(broker)
            return float("nan"), state
        time.sleep(1)


def warm_up(port: int, paths: list[str]) -> None:
    """A few pages through each worker (templates, translations, connections)."""
    for _ in range(4):
        for path in paths:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as answer:
                answer.read()


# ---- locust -------------------------------------------------------------------------------


def percentile(times: dict[int, int], count: int, share: float) -> float:
    """locust's own percentile over its histogram of response times (ms, rounded)."""
    if not count:
        return float("nan")
    seen = 0
    for value in sorted(times, reverse=True):
        seen += times[value]
        if count - seen <= int(count * share):
            return float(value)
    return 0.0


def read_stats(path: Path) -> dict[str, dict]:
    """Per action and in all, from locust's final JSON (written after the last user stopped,
    unlike its CSV, so every answer counted is in it)."""
    entries = json.loads(path.read_text())
    first = min(e["start_time"] for e in entries)
    last = max(e["last_request_timestamp"] or first for e in entries)
    seconds = max(last - first, 1e-9)
    rows, everything = {}, {"num_requests": 0, "num_failures": 0, "times": {}, "max": 0.0}
    for entry in sorted(entries, key=lambda e: e["name"]):
        times = {int(float(k)): v for k, v in entry["response_times"].items()}
        count = entry["num_requests"] - entry["num_none_requests"]
        rows[entry["name"]] = {
            "requests": entry["num_requests"],
            "failures": entry["num_failures"],
            "rps": entry["num_requests"] / seconds,
            "p50": percentile(times, count, 0.50),
            "p95": percentile(times, count, 0.95),
            "p99": percentile(times, count, 0.99),
            "max": float(entry["max_response_time"] or 0),
        }
        everything["num_requests"] += entry["num_requests"]
        everything["num_failures"] += entry["num_failures"]
        everything["max"] = max(everything["max"], rows[entry["name"]]["max"])
        for value, n in times.items():
            everything["times"][value] = everything["times"].get(value, 0) + n
    count = sum(everything["times"].values())
    rows["Aggregated"] = {
        "requests": everything["num_requests"],
        "failures": everything["num_failures"],
        "rps": everything["num_requests"] / seconds,
        "p50": percentile(everything["times"], count, 0.50),
        "p95": percentile(everything["times"], count, 0.95),
        "p99": percentile(everything["times"], count, 0.99),
        "max": everything["max"],
    }
    return rows


def run_locust(env: dict, port: int, seed: Path, prefix: Path, args, log) -> tuple[dict, float]:
    users = args.signers + args.browsers + args.clerks + args.officers + args.verifiers
    load_env = {
        **env,
        "LOAD_SEED": str(seed),
        "LOAD_SIGNERS": str(args.signers),
        "LOAD_SIGN_RATE": str(args.sign_rate),
        "LOAD_BROWSERS": str(args.browsers),
        "LOAD_CLERKS": str(args.clerks),
        "LOAD_PRINT_EVERY": str(args.print_every),
        "LOAD_OFFICERS": str(args.officers),
        "LOAD_FINDING_EVERY": str(args.finding_every),
        "LOAD_VERIFIERS": str(args.verifiers),
    }
    command = [
        str(BIN / "locust"),
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(args.spawn_rate),
        "-t",
        f"{args.duration}s",
        "--json-file",
        str(prefix),
        "--csv",  # the per-second history, kept beside the figures
        str(prefix),
        "--host",
        f"http://127.0.0.1:{port}",
        "--only-summary",
        "--stop-timeout",
        "10",
        "--loglevel",
        "WARNING",
    ]
    children = os.times()
    process = start(command, load_env, log)
    process.wait(timeout=args.duration + 300)
    usage = os.times()  # locust is the only child that ends meanwhile: its CPU time
    cpu = usage.children_user + usage.children_system
    cpu -= children.children_user + children.children_system
    return read_stats(Path(f"{prefix}.json")), cpu


# ---- report -------------------------------------------------------------------------------


def table(result: dict) -> list[str]:
    lines = [
        "| action | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | failures |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in result["stats"].items():
        label = f"**{name}**" if name == "Aggregated" else name
        lines.append(
            f"| {label} | {row['requests']} | {row['rps']:.1f} | {row['p50']:.0f} | "
            f"{row['p95']:.0f} | {row['p99']:.0f} | {row['max']:.0f} | {row['failures']} |"
        )
    return lines


def summary(result: dict) -> str:
    sign = result["stats"].get(SIGN, {})
    cpu = ", ".join(f"{k} {v:.1f}" for k, v in result["cpu_seconds"].items())
    web_ms = 1000 * result["cpu_seconds"]["web"] / max(result["stats"]["Aggregated"]["requests"], 1)
    return (
        f"{result['web_workers']} web worker(s) × {result['threads']} threads: signing "
        f"{sign.get('rps', 0):.1f}/s (p99 {sign.get('p99', float('nan')):.0f} ms), all "
        f"actions {result['stats']['Aggregated']['rps']:.1f} req/s, "
        f"{result['stats']['Aggregated']['failures']} failures; load average "
        f"{result['load_before']:.1f} → {result['load_after']:.1f}; CPU seconds over "
        f"{result['seconds']:.0f} s: {cpu} (web {web_ms:.0f} ms a request); tasks drained "
        f"{result['drain_seconds']:.1f} s after the end"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_load")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--cache", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--duration", type=int, default=60, help="seconds per configuration")
    parser.add_argument("--web-workers", default="1,2", help="gunicorn workers, one run each")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    parser.add_argument(
        "--keep-alive", type=int, default=75, help="gunicorn's keep-alive, above clients' idle"
    )
    parser.add_argument("--residents", type=int, default=40)
    parser.add_argument("--signers", type=int, default=40)
    parser.add_argument("--sign-rate", type=float, default=5, help="signings/s per signer")
    parser.add_argument("--browsers", type=int, default=10)
    parser.add_argument("--clerks", type=int, default=2)
    parser.add_argument("--print-every", type=float, default=5, help="seconds per clerk print")
    parser.add_argument("--officers", type=int, default=2)
    parser.add_argument("--finding-every", type=float, default=5)
    parser.add_argument("--verifiers", type=int, default=5)
    parser.add_argument("--spawn-rate", type=float, default=50)
    parser.add_argument("--matters", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "var" / "bench-load"))
    args = parser.parse_args()
    configurations = [int(n) for n in args.web_workers.split(",")]
    per_run = len(configurations)
    # Enough never-printed pledges and open tasks for every print and finding of each run.
    prints = int(args.clerks * (args.duration + 30) / args.print_every) + 10
    tasks = int(args.officers * (args.duration + 30) / args.finding_every) + 10

    workdir = Path(tempfile.mkdtemp(prefix="load-bench-"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    database = args.database_url.rsplit("/", 1)[1]
    env = bench_env(args.database_url, str(workdir / "private"))
    env.update(
        DJANGO_SETTINGS_MODULE="bench.load.settings",
        CELERY_BROKER_URL=args.broker,
        CACHE_URL=args.cache,
        LOAD_STATIC_ROOT=str(workdir / "static"),
    )
    print(
        f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
        f"database {args.database_url} · broker {args.broker} · cache {args.cache} · "
        f"{time.strftime('%Y-%m-%d %H:%M')} · load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    redis_flush(args.broker, args.cache)
    recreate_database(args.database_url)
    run_manage(env, "migrate", "--run-syncdb", "--no-input")
    run_manage(env, "collectstatic", "--no-input", "--verbosity", "0")
    people = setup_data(env, args.residents)
    seed_file = workdir / "seed.json"
    seed_env = {
        **env,
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "LOAD_SEED_OUT": str(seed_file),
        "LOAD_MATTERS": str(args.matters),
        "LOAD_PRINTS": str(prints * per_run),
        "LOAD_TASKS": str(tasks * per_run),
    }
    started = time.monotonic()
    output = run_manage(
        seed_env, "shell", "--no-imports", "-c", "from bench.load.seed import main; main()"
    )
    print(next(line for line in output.splitlines() if line.startswith("LOAD-SEED ")), end="")
    print(f" ({time.monotonic() - started:.0f} s)", flush=True)
    seed = json.loads(seed_file.read_text())
    seed["sign_bodies"] = bodies(people, signature_png())

    logs = {name: open(workdir / f"{name}.log", "w") for name in ("celery", "relay", "web")}  # noqa: SIM115
    groups: dict[str, int] = {}
    background = []
    for i in (1, 2):
        worker = start(
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--pool",
                "solo",
                "--concurrency",
                "1",
                "-n",
                f"load{i}@%h",
                "--loglevel",
                "WARNING",
            ],
            env,
            logs["celery"],
        )
        background.append(worker)
        groups[f"celery{i}"] = worker.pid
    if (ROOT / "core" / "management" / "commands" / "outbox_relay.py").exists():
        relay = start([PYTHON, "manage.py", "outbox_relay"], env, logs["relay"])
        background.append(relay)
        groups["relay"] = relay.pid

    results, broken = [], []
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        for index, workers in enumerate(configurations):
            share = {
                **seed,
                "print_numbers": seed["print_numbers"][index * prints : (index + 1) * prints],
                "tasks": seed["tasks"][index * tasks : (index + 1) * tasks],
            }
            run_seed = workdir / f"seed-{workers}.json"
            run_seed.write_text(json.dumps(share))
            before = database_state(env)
            port = free_port()
            # The load generator stands for nginx (docs/examples/nginx.conf) keeping its
            # connections to gunicorn open: gunicorn must not close one that a client is about
            # to reuse, or a POST sent on it fails with "connection closed".
            web_env = {**env, "GUNICORN_CMD_ARGS": f"--keep-alive {args.keep_alive}"}
            server = start_gunicorn(web_env, port, workers, args.threads, logs["web"])
            groups["web"] = server.pid
            warm_up(port, ["/", "/guides/", f"/matters/{seed['catalog'][1]}/"])
            prefix = workdir / f"locust-{workers}"
            locust_log = open(workdir / f"locust-{workers}.log", "w")  # noqa: SIM115
            load_before = os.getloadavg()[0]
            sampler = CpuSampler(groups, database)
            sampler.start()
            clock = time.monotonic()
            try:
                stats, locust_cpu = run_locust(env, port, run_seed, prefix, args, locust_log)
            finally:
                locust_log.close()
            seconds = time.monotonic() - clock
            cpu = sampler.stop()
            load_after = os.getloadavg()[0]
            crashed = server.poll() is not None
            stop(server)
            drain_seconds, after = drain(env, args.broker)
            result = {
                "web_workers": workers,
                "threads": args.threads,
                "seconds": seconds,
                "stats": stats,
                "load_before": load_before,
                "load_after": load_after,
                "cpu_seconds": {
                    **cpu,
                    "locust": locust_cpu,
                },
                "drain_seconds": drain_seconds,
                "database": {"before": before, "after": after},
            }
            results.append(result)
            for kind in ("stats_history", "failures"):
                produced = Path(f"{prefix}_{kind}.csv")
                if produced.exists():
                    shutil.copy(produced, out / f"{kind}-{stamp}-{workers}w.csv")
            result["failure_kinds"] = failure_kinds(Path(f"{prefix}_failures.csv"))
            broken += check(result, crashed)
            print(f"\n{summary(result)}", flush=True)
    finally:
        for process in background:
            stop(process)
        for handle in logs.values():
            handle.close()

    return report(results, broken, args, out, workdir, stamp)


def failure_kinds(path: Path) -> list[str]:
    """What failed, from locust's failures CSV (written when it quits: may miss the last)."""
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [
            f"{row['Occurrences']}× {row['Method']} {row['Name']}: {row['Error'][:300]}"
            for row in csv.DictReader(handle)
        ]


def check(result: dict, crashed: bool) -> list[str]:
    """What must hold after a run whatever the speed: no lost or doubled pledge or finding."""
    problems = []
    stats, before, after = result["stats"], *result["database"].values()
    signed = stats.get(SIGN, {"requests": 0, "failures": 0})
    found = stats.get(FINDING, {"requests": 0, "failures": 0})
    if crashed:
        problems.append("gunicorn died during the run")
    if after["online"] - before["online"] != signed["requests"] - signed["failures"]:
        problems.append(
            f"{after['online'] - before['online']} pledges stored for "
            f"{signed['requests'] - signed['failures']} signings answered 201"
        )
    if not after["dense"]:
        problems.append("pledge numbers are not gap-free")
    if after["findings"] - before["findings"] != found["requests"] - found["failures"]:
        problems.append("findings stored differ from findings answered 201")
    if result["drain_seconds"] != result["drain_seconds"]:  # NaN: did not drain
        problems.append(f"the outbox or the broker did not drain: {after}")
    return [f"{result['web_workers']} worker(s): {p}" for p in problems]


def report(results: list[dict], broken: list[str], args, out: Path, workdir: Path, stamp) -> int:
    lines = []
    for result in results:
        lines += ["", summary(result), "", *table(result)]
        if result["failure_kinds"]:
            lines += ["", "failures:", *(f"- {kind}" for kind in result["failure_kinds"])]
    signing = [r["stats"].get(SIGN, {"rps": 0.0, "p99": float("nan")}) for r in results]
    if len(results) > 1:
        first, last = results[0], results[-1]
        lines += [
            "",
            f"scaling {first['web_workers']} → {last['web_workers']} web workers: signing "
            f"{signing[-1]['rps'] / max(signing[0]['rps'], 1e-9):.2f}×, all actions "
            f"{last['stats']['Aggregated']['rps'] / first['stats']['Aggregated']['rps']:.2f}×",
        ]
    met = [
        s["rps"] >= TARGET_SIGN_RPS
        and s["p99"] < TARGET_P99_MS
        and r["stats"]["Aggregated"]["failures"] == 0
        and r["stats"].get(PRINT, {}).get("requests", 0) > 0
        for s, r in zip(signing, results, strict=True)
    ]
    lines += [
        "",
        f"goal: {TARGET_SIGN_RPS} signings/s with p99 < {TARGET_P99_MS} ms while printing "
        f"runs, no error: {'met' if any(met) else 'not met'}",
    ]
    if broken:
        lines += ["", "BROKEN:", *broken]
    text = "\n".join(lines)
    print(text)
    (out / f"load-{stamp}.md").write_text(text + "\n")
    (out / f"load-{stamp}.json").write_text(
        json.dumps({"args": vars(args), "results": results, "broken": broken}, indent=1)
    )
    print(f"\nfigures: {out}/load-{stamp}.md (.json)")
    if broken:
        print(f"logs of the processes: {workdir}")
        return 2
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if any(met) else 1


if __name__ == "__main__":
    sys.exit(main())
