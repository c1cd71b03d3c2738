"""Signing benchmark: ``POST /api/v1/pledges/`` against a bare DRF insert, same run, same stack.

    .venv/bin/python bench/sign_bench.py [--duration 15] [--rounds 3] [--connections 8]
                                         [--workers 2] [--threads 4] [--loader wrk|python]

What it does:

1. Recreates the PostgreSQL database ``bench_sign`` (``--database-url`` to change) and
   migrates it under ``bench.settings``: production settings (DEBUG off, persistent
   connections, health checks) plus the bench-only app ``bench.bareapp`` with the baseline
   endpoint ``POST /bench/bare/`` (a DRF view that validates a pledge-shaped body and inserts
   one row).
2. Creates residents with API tokens and a pledgeable matter with a published template.
3. Serves the project with gunicorn on loopback: 2 workers, gthread with 4 threads each by
   default (``--threads 1`` for sync workers), its output in a temporary log file.
4. Drives both endpoints with the same body (a realistic drawn signature, a 6.5 kB PNG), the
   same tokens and the same number of connections, alternating baseline and signing in each
   round so that a noisy neighbour hurts both alike. ``wrk`` if installed, otherwise a
   Python load generator (threads, one keep-alive ``http.client`` connection each).
5. Prints requests per second and p99 latency of each, and the ratios (targets: signing
   throughput at least 0.5× the baseline's, p99 at most 4×). Then checks the signed pledges:
   as many as 201 answers, numbers gap-free.

Exit status 0 when both targets are met, 1 when one is missed, 2 when something broke.
"""

import argparse
import base64
import http.client
import io
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TARGET_THROUGHPUT = 0.5
TARGET_P99 = 4.0
SIGN_PATH = "/api/v1/pledges/"
BARE_PATH = "/bench/bare/"


# ---- set-up -----------------------------------------------------------------------------


def signature_png() -> str:
    """A drawn signature as a phone canvas sends it: 600×180, a few strokes, PNG data URI."""
    from PIL import Image, ImageDraw

    rng = random.Random(7)
    image = Image.new("RGBA", (600, 180), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        points = [(rng.randint(20, 580), rng.randint(20, 160)) for _ in range(12)]
        draw.line(points, fill=(0, 0, 0, 255), width=3, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def bench_env(database_url: str, private_root: str) -> dict:
    from cryptography.fernet import Fernet

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "CACHE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=database_url,
        DJANGO_SECRET_KEY="bench-" + Fernet.generate_key().decode() * 2,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ID_HASH_KEY="bench-id-" + Fernet.generate_key().decode(),
        LEDGER_HMAC_KEY="bench-ledger-" + Fernet.generate_key().decode(),
        EXPORT_SIGNING_KEY="bench-export-" + Fernet.generate_key().decode(),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        # Production would use Redis; the bench keeps the cache in each worker's memory.
        CACHE_URL="locmemcache://bench",
        CELERY_BROKER_URL="memory://",
        PRIVATE_ROOT=private_root,
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def recreate_database(database_url: str) -> None:
    import psycopg

    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def run_manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(2)
    return result.stdout


SETUP = """
import json, datetime as dt
from django.utils import timezone
from rest_framework.authtoken.models import Token
from accounts import id_numbers
from accounts.models import Unit
from accounts.services import account_upsert
from pledges.models import Matter, PledgeTemplate

department, _ = Unit.objects.get_or_create(
    code="BENCH", defaults={"name": "基准部门", "kind": "department"}
)
matter = Matter.objects.create(
    code="BENCH-1", name="基准事项", department=department, certificate="经济困难证明",
    legal_basis="《基准条例》第一条", disposition="pledge", valid_from=dt.date(2020, 1, 1),
)
keys = ("matter", "legal_basis", "conditions", "how_to_pledge", "liability", "verification",
        "publication")
notice = [{"key": k, "title": k, "body": "告知内容" * 20} for k in keys]
statements = [{"key": f"s{i}", "text": "本人承诺" * 5} for i in range(5)]
PledgeTemplate.objects.create(
    matter=matter, version=1, notice=notice, statements=statements, status="published",
    published_at=timezone.now(),
)
people = []
for i in range(COUNT):
    birth = dt.date(1970, 1, 1) + dt.timedelta(days=i * 41)
    number = id_numbers.make_number("419001", birth, i + 1)
    user, _ = account_upsert(
        username=f"bench{i}", role="resident", password="bench-Pass-123",
        real_name=f"基准{i}", id_number=number, phone=f"1390000{i:04d}",
    )
    token = Token.objects.create(user=user).key
    people.append({"token": token, "name": f"基准{i}", "id_number": number})
print("BENCH-SETUP " + json.dumps(people))
"""


def setup_data(env: dict, residents: int) -> list[dict]:
    output = run_manage(env, "shell", "--no-imports", "-c", SETUP.replace("COUNT", str(residents)))
    line = next(line for line in output.splitlines() if line.startswith("BENCH-SETUP "))
    return json.loads(line.removeprefix("BENCH-SETUP "))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict, port: int, workers: int, threads: int, log) -> subprocess.Popen:
    """gunicorn with ``workers`` workers (sync, or gthread with ``threads`` > 1); its output
    (access log included) goes to ``log``."""
    gunicorn = Path(PYTHON).with_name("gunicorn")
    process = subprocess.Popen(
        [
            str(gunicorn),
            "config.wsgi:application",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(ROOT),
            "--log-level",
            "warning",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(2) from None
            time.sleep(0.2)
    stop(process)
    raise SystemExit("gunicorn did not start")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# ---- load -------------------------------------------------------------------------------


def bodies(people: list[dict], image: str) -> list[tuple[str, str]]:
    """(token, JSON body) per resident: each signs for themselves."""
    result = []
    for person in people:
        body = {
            "matter": "BENCH-1",
            "applicant": {"name": person["name"], "id_number": person["id_number"]},
            "statements_accepted": True,
            "signature": {"typed_name": person["name"], "image": image},
        }
        result.append((person["token"], json.dumps(body, ensure_ascii=False)))
    return result


WRK_SCRIPT = """
local pairs_ = {PAIRS}
local counter = 0
request = function()
  counter = counter + 1
  local pair = pairs_[(counter % #pairs_) + 1]
  return wrk.format("POST", "{PATH}", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Token " .. pair[1],
  }, pair[2])
end
done = function(summary, latency, requests)
  io.write(string.format(
    "WRK-RESULT {\\"requests\\": %d, \\"seconds\\": %f, \\"p50\\": %f, \\"p99\\": %f, "
    .. "\\"status_errors\\": %d, \\"socket_errors\\": %d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def load_wrk(port, path, pairs, connections, duration, workdir) -> dict:
    table = ", ".join(f"{{{lua_string(t)}, {lua_string(b)}}}" for t, b in pairs)
    script = Path(workdir) / f"load-{path.strip('/').replace('/', '-')}.lua"
    script.write_text(WRK_SCRIPT.replace("{PAIRS}", "{" + table + "}").replace("{PATH}", path))
    threads = min(2, connections)
    result = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )
    line = next(
        (line for line in result.stdout.splitlines() if line.startswith("WRK-RESULT ")), None
    )
    if line is None:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(2)
    data = json.loads(line.removeprefix("WRK-RESULT "))
    data["errors"] = data.pop("status_errors") + data.pop("socket_errors")
    data["ok"] = data["requests"] - data["errors"]
    data["rps"] = data["ok"] / data["seconds"]
    return data


def load_python(port, path, pairs, connections, duration, workdir) -> dict:
    """Threads, each with one keep-alive connection, posting until the time is up."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker(offset):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine, failed, index = [], 0, offset
        while time.monotonic() < stop_at:
            token, body = pairs[index % len(pairs)]
            index += 1
            headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
            started = time.perf_counter()
            try:
                conn.request("POST", path, body.encode(), headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 300:
                    failed += 1
                else:
                    mine.append(time.perf_counter() - started)
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {
        "requests": len(latencies) + errors[0],
        "ok": len(latencies),
        "errors": errors[0],
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        "p50": p(0.50) if latencies else float("nan"),
        "p99": p(0.99) if latencies else float("nan"),
    }


# ---- checks after the load --------------------------------------------------------------

CHECK = """
import re
from pledges.models import Pledge
from bench.bareapp.models import BareRow
given = Pledge.objects.values_list("number", flat=True)
numbers = sorted(int(n.rsplit("-", 1)[1]) for n in given)
dense = numbers == list(range(1, len(numbers) + 1))
print("BENCH-CHECK", len(numbers), dense, BareRow.objects.count())
"""


def check_rows(env: dict) -> tuple[int, bool, int]:
    output = run_manage(env, "shell", "--no-imports", "-c", CHECK)
    line = next(line for line in output.splitlines() if line.startswith("BENCH-CHECK "))
    _, count, dense, bare = line.split()
    return int(count), dense == "True", int(bare)


# ---- main -------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_sign")
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=4, help="threads per worker (1: sync workers)"
    )
    parser.add_argument("--residents", type=int, default=8)
    parser.add_argument("--loader", choices=["auto", "wrk", "python"], default="auto")
    args = parser.parse_args()

    loader_name = args.loader
    if loader_name == "auto":
        loader_name = "wrk" if shutil.which("wrk") else "python"
    load = load_wrk if loader_name == "wrk" else load_python

    workdir = tempfile.mkdtemp(prefix="sign-bench-")
    env = bench_env(args.database_url, str(Path(workdir) / "private"))
    print(
        f"database {args.database_url}, {args.workers} gunicorn workers × {args.threads} "
        f"threads, loader {loader_name}, {args.connections} connections, "
        f"{args.rounds}×{args.duration}s per endpoint"
    )
    recreate_database(args.database_url)
    run_manage(env, "migrate", "--run-syncdb", "--no-input")
    people = setup_data(env, args.residents)
    image = signature_png()
    pairs = bodies(people, image)
    print(
        f"signature image {len(base64.b64decode(image.split(',', 1)[1]))} bytes, "
        f"{len(people)} residents"
    )

    port = free_port()
    server_log = open(Path(workdir) / "gunicorn.log", "w")  # noqa: SIM115 - closed below
    server = start_gunicorn(env, port, args.workers, args.threads, server_log)
    results = {"bare": [], "sign": []}
    try:
        for path in (BARE_PATH, SIGN_PATH):  # warm both workers up
            load(port, path, pairs, args.connections, 2, workdir)
        for round_ in range(args.rounds):
            order = [("bare", BARE_PATH), ("sign", SIGN_PATH)]
            if round_ % 2:
                order.reverse()
            for name, path in order:
                data = load(port, path, pairs, args.connections, args.duration, workdir)
                results[name].append(data)
                print(
                    f"round {round_ + 1} {name:4}: {data['rps']:7.1f} req/s  "
                    f"p50 {data['p50']:6.1f} ms  p99 {data['p99']:6.1f} ms  "
                    f"errors {data['errors']}"
                )
    finally:
        stop(server)
        server_log.close()

    def summary(name):
        rounds = results[name]
        return {
            "rps": statistics.median(r["rps"] for r in rounds),
            "p99": statistics.median(r["p99"] for r in rounds),
            "p50": statistics.median(r["p50"] for r in rounds),
            "errors": sum(r["errors"] for r in rounds),
        }

    bare, sign = summary("bare"), summary("sign")
    throughput_ratio = sign["rps"] / bare["rps"]
    p99_ratio = sign["p99"] / bare["p99"]
    pledges, dense, _bare_rows = check_rows(env)
    print()
    print(
        f"baseline (bare DRF insert): {bare['rps']:.1f} req/s, p50 {bare['p50']:.1f} ms, "
        f"p99 {bare['p99']:.1f} ms (median of {args.rounds} rounds)"
    )
    print(
        f"signing (POST {SIGN_PATH}): {sign['rps']:.1f} req/s, p50 {sign['p50']:.1f} ms, "
        f"p99 {sign['p99']:.1f} ms"
    )
    print(f"throughput ratio {throughput_ratio:.2f}x (target >= {TARGET_THROUGHPUT}x)")
    print(f"p99 ratio        {p99_ratio:.2f}x (target <= {TARGET_P99}x)")
    print(
        f"pledges signed {pledges}, numbers gap-free: {dense}; "
        f"failed requests: baseline {bare['errors']}, signing {sign['errors']}"
    )
    shutil.rmtree(workdir, ignore_errors=True)
    if sign["errors"] or bare["errors"] or not dense:
        return 2
    return 0 if throughput_ratio >= TARGET_THROUGHPUT and p99_ratio <= TARGET_P99 else 1


if __name__ == "__main__":
    sys.exit(main())
