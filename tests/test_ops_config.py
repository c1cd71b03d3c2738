"""The production guide's example files parse, and their commands are ones our tools accept.

nginx: a small parser for its brace-and-semicolon syntax (no nginx binary needed); systemd:
configparser, then every ``ExecStart`` checked against the CLI it calls (Celery's click
commands, our management commands); gunicorn: its own configuration loader. Settings: the
environment switches the guide documents do what it says.
"""

import configparser
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import load_command_class

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
GUIDE = ROOT / "docs" / "production.md"
VENV_BIN = "/srv/chengnuo/.venv/bin/"


# ---- nginx -----------------------------------------------------------------------------


def nginx_tokens(text: str):
    """Words, quoted strings, ``{``, ``}`` and ``;``, comments dropped."""
    pattern = re.compile(r"""\s+|#[^\n]*|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[{};]|[^\s{};'"#]+""")
    position = 0
    while position < len(text):
        match = pattern.match(text, position)
        if not match:
            raise ValueError(f"cannot read nginx syntax at offset {position}")
        token = match.group()
        position = match.end()
        if not token.strip() or token.startswith("#"):
            continue
        yield token


def parse_nginx(text: str) -> list:
    """``[(name, [args], children or None), …]``; raises on unbalanced or unterminated input."""
    stack: list[list] = [[]]
    words: list[str] = []
    for token in nginx_tokens(text):
        if token == ";":
            if not words:
                raise ValueError("empty directive")
            stack[-1].append((words[0], words[1:], None))
            words = []
        elif token == "{":
            if not words:
                raise ValueError("block without a name")
            block = (words[0], words[1:], [])
            stack[-1].append(block)
            stack.append(block[2])
            words = []
        elif token == "}":
            if words or len(stack) == 1:
                raise ValueError("unexpected }")
            stack.pop()
        else:
            words.append(token)
    if words or len(stack) != 1:
        raise ValueError("unterminated directive or block")
    return stack[0]


def find(directives, name, *args):
    return [d for d in directives if d[0] == name and (not args or d[1][: len(args)] == list(args))]


def test_the_nginx_parser_refuses_broken_input():
    for broken in ("server { listen 80; ", "listen 80", "}", "location / { return 404 }"):
        with pytest.raises(ValueError):
            parse_nginx(broken)


def test_nginx_example_parses_and_proxies_with_the_request_id():
    config = parse_nginx((EXAMPLES / "nginx.conf").read_text())
    [upstream] = find(config, "upstream", "chengnuo_web")
    assert find(upstream[2], "server")
    [tls] = [s for s in find(config, "server") if find(s[2], "listen", "443")]
    [root] = find(tls[2], "location", "/")
    assert find(root[2], "proxy_pass", "http://chengnuo_web")
    assert find(root[2], "proxy_set_header", "X-Request-ID", "$request_id")
    # Production's SECURE_PROXY_SSL_HEADER reads exactly this header.
    assert find(root[2], "proxy_set_header", "X-Forwarded-Proto", "$scheme")


def test_nginx_example_never_forwards_metrics_and_fences_readiness():
    config = parse_nginx((EXAMPLES / "nginx.conf").read_text())
    [tls] = [s for s in find(config, "server") if find(s[2], "listen", "443")]
    [metrics] = find(tls[2], "location", "=", "/metrics")
    assert find(metrics[2], "return", "404") and not find(metrics[2], "proxy_pass")
    [ready] = find(tls[2], "location", "=", "/readyz")
    assert find(ready[2], "deny", "all")


def test_nginx_example_accepts_the_largest_upload_django_accepts():
    config = parse_nginx((EXAMPLES / "nginx.conf").read_text())
    [tls] = [s for s in find(config, "server") if find(s[2], "listen", "443")]
    [(_, [size], _)] = find(tls[2], "client_max_body_size")
    assert int(size.rstrip("m")) * 1024 * 1024 >= settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    [static] = find(tls[2], "location", "/static/")
    [(_, [folder], _)] = find(static[2], "alias")
    assert folder.rstrip("/").endswith(
        str(Path(settings.STATIC_ROOT).relative_to(settings.BASE_DIR))
    )


# ---- systemd ---------------------------------------------------------------------------


class _Repeatable(dict):
    """systemd keys may repeat (``EnvironmentFile=`` twice): keep every value, one per line."""

    def __setitem__(self, key, value):
        if isinstance(value, list) and isinstance(self.get(key), list):
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(
        strict=False, interpolation=None, delimiters=("=",), dict_type=_Repeatable
    )
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(path.read_text(), source=str(path))
    return parser


UNITS = sorted((EXAMPLES / "systemd").glob("*.service")) + sorted(
    (EXAMPLES / "systemd").glob("*.timer")
)


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_systemd_units_parse(path):
    parsed = unit(path)
    assert parsed.has_section("Unit") and parsed["Unit"].get("Description")
    if path.suffix == ".service":
        service = parsed["Service"]
        assert service["ExecStart"].startswith(VENV_BIN)
        assert service["WorkingDirectory"] == "/srv/chengnuo"
        assert "config.settings.production" in service["Environment"]
        assert service["EnvironmentFile"].splitlines()[0] == "/etc/chengnuo/chengnuo.env"
    else:
        assert parsed["Timer"]["OnCalendar"]


def _celery_context(command: str, args: list[str]):
    from celery.bin.base import CLIContext
    from celery.bin.beat import beat
    from celery.bin.worker import worker

    from config.celery import app

    click_command = {"worker": worker, "beat": beat}[command]
    obj = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
    return click_command.make_context(command, args, obj=obj)


def _exec_start(name: str, instance: str = "") -> list[str]:
    line = unit(EXAMPLES / "systemd" / name)["Service"]["ExecStart"]
    line = line.replace("%i", instance).replace("%H", "host")
    line = line.replace("${CELERY_CONCURRENCY}", "2")
    return shlex.split(line)


def test_there_is_exactly_one_beat_and_it_uses_the_database_schedule():
    services = [p.name for p in UNITS if p.suffix == ".service"]
    beats = [name for name in services if _exec_start(name)[3:4] == ["beat"]]
    assert beats == ["chengnuo-beat.service"]
    argv = _exec_start("chengnuo-beat.service")
    assert argv[:3] == [VENV_BIN + "celery", "-A", "config"]
    context = _celery_context("beat", argv[4:])
    assert context.params["scheduler"] == settings.CELERY_BEAT_SCHEDULER


@pytest.mark.parametrize("queue", ["default", "print", "credit", "draws", "reports", "celery"])
def test_the_worker_template_runs_one_queue_with_options_celery_accepts(queue):
    argv = _exec_start("chengnuo-worker@.service", queue)
    assert argv[:4] == [VENV_BIN + "celery", "-A", "config", "worker"]
    context = _celery_context("worker", argv[4:])
    assert context.params["queues"] == [queue]
    assert context.params["prefetch_multiplier"] == 1


@pytest.mark.parametrize(
    ("name", "command"),
    [("chengnuo-outbox.service", "outbox_relay"), ("chengnuo-backup.service", "backup")],
)
def test_management_command_units_pass_arguments_the_command_accepts(name, command):
    argv = _exec_start(name)
    assert argv[:3] == [VENV_BIN + "python", "manage.py", command]
    parser = load_command_class("core", command).create_parser("manage.py", command)
    parser.parse_args(argv[3:])  # exits (SystemExit) on an unknown option


def test_web_unit_runs_gunicorn_with_the_example_configuration():
    argv = _exec_start("chengnuo-web.service")
    assert argv[0] == VENV_BIN + "gunicorn"
    assert argv[argv.index("-c") + 1].endswith("gunicorn.conf.py")
    assert argv[-1] == "config.wsgi"


# ---- gunicorn --------------------------------------------------------------------------


def test_gunicorn_example_loads_with_gunicorns_own_validation(monkeypatch):
    from gunicorn.app.wsgiapp import WSGIApplication
    from gunicorn.config import Config

    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    application = WSGIApplication.__new__(WSGIApplication)
    application.cfg = Config()
    application.load_config_from_file(str(EXAMPLES / "gunicorn.conf.py"))
    cfg = application.cfg
    assert cfg.workers == 3
    assert cfg.bind == ["127.0.0.1:8000"]
    assert cfg.accesslog is None  # Django writes the access log, with request ids
    assert callable(cfg.child_exit)


# ---- settings switched by the environment ----------------------------------------------

DUMMY_KEYS = {
    "DJANGO_SECRET_KEY": "x" * 50,
    "FIELD_ENCRYPTION_KEYS": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "ID_HASH_KEY": "id-hash-key",
    "LEDGER_HMAC_KEY": "ledger-key",
    "EXPORT_SIGNING_KEY": "export-key",
    "DJANGO_ALLOWED_HOSTS": "chengnuo.example.gov.cn",
    "DATABASE_URL": "postgres://chengnuo@127.0.0.1:5432/chengnuo",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}


def settings_under(module: str, **environment) -> dict:
    """A few settings as ``module`` computes them in a fresh process with ``environment``."""
    script = (
        "import json, django; from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k, None) for k in ("
        "'LOG_FORMAT', 'SECURE_REDIRECT_EXEMPT', 'CELERY_TASK_ROUTES', "
        "'CELERY_TASK_DEFAULT_QUEUE', 'METRICS_ALLOWED_IPS')} | "
        "{'formatter': s.LOGGING['handlers']['console']['formatter'], "
        "'db': {k: v for k, v in s.DATABASES['default'].items() if k in "
        "('CONN_MAX_AGE', 'OPTIONS')}}, default=str))"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in DUMMY_KEYS and not key.startswith(("LOG_", "CELERY_", "DB_POOL"))
    }
    env.update(DJANGO_SETTINGS_MODULE=module, **environment)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_logs_json_and_exempts_probes_from_the_https_redirect():
    values = settings_under("config.settings.production", **DUMMY_KEYS)
    assert (values["LOG_FORMAT"], values["formatter"]) == ("json", "json")
    for path in ("healthz", "readyz", "metrics"):
        assert any(re.search(p, path) for p in values["SECURE_REDIRECT_EXEMPT"])
    assert values["METRICS_ALLOWED_IPS"] == "127.0.0.1,::1"
    assert values["db"]["CONN_MAX_AGE"] > 0


def test_development_logs_plain_text_unless_asked():
    assert settings_under("config.settings.development")["formatter"] == "text"
    assert settings_under("config.settings.development", LOG_FORMAT="json")["formatter"] == "json"


def test_routing_by_kind_is_off_by_default_so_one_worker_consumes_everything():
    values = settings_under("config.settings.development")
    assert values["CELERY_TASK_ROUTES"] is None


def test_routing_by_kind_sends_each_app_to_its_queue():
    routes = settings_under("config.settings.development", CELERY_ROUTE_BY_KIND="1")[
        "CELERY_TASK_ROUTES"
    ]
    from celery import Celery

    router_app = Celery("routes", set_as_current=False)
    router_app.conf.task_routes = routes
    router_app.conf.task_default_queue = "default"
    route = router_app.amqp.router.route
    expected = {
        "pledges.tasks.render_pledge_pdf": "print",
        "credit.tasks.push_records": "credit",
        "verification.tasks.draw_spot_checks": "draws",
        "oversight.tasks.quarterly_report": "reports",
        "core.tasks.send_sms": "default",
        "django_celery_beat.anything": "default",
    }
    for task, queue in expected.items():
        assert route({}, task)["queue"].name == queue, task


def test_db_pool_switches_to_djangos_psycopg_pool():
    values = settings_under("config.settings.production", **DUMMY_KEYS, DB_POOL="1")
    assert values["db"]["CONN_MAX_AGE"] == 0
    assert values["db"]["OPTIONS"]["pool"]["max_size"] == 4


# ---- the guide -------------------------------------------------------------------------

_ENV_READ = re.compile(
    r"""(?:env(?:\.\w+)?|_rate|_key_list|environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
)


def test_the_guide_documents_every_environment_variable_the_code_reads():
    from config.devkeys import KEY_NAMES

    sources = list((ROOT / "config").rglob("*.py")) + [ROOT / "core" / "metrics.py"]
    names = set(KEY_NAMES)
    for path in sources:
        names |= set(_ENV_READ.findall(path.read_text()))
    names -= {"DJANGO_SETTINGS_MODULE", "CHENGNUO_REAL_WORKER"}  # tests only
    guide = GUIDE.read_text()
    missing = sorted(name for name in names if f"`{name}`" not in guide)
    assert not missing, f"docs/production.md does not document: {missing}"
