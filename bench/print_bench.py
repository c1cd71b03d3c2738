"""Printing benchmark: the two-copy pledge form, each figure beside its baseline in one run.

    .venv/bin/python bench/print_bench.py [--rounds 15] [--prints 500] [--baseline-prints 100]

What it does, in a temporary SQLite database migrated on the spot (test settings: private
files in a temporary folder, tasks eager):

1. Signs a pledge for a realistic matter (the full default notice of DOMAIN.md §1) with a
   realistic drawn signature (600×180 PNG of a phone canvas) and a name with a rare
   Extension B character (王𠮷明), the worst case for fonts.
2. **Pipeline vs bare WeasyPrint.** ``printing.pledge_form_render`` (frozen content →
   context with the decrypted ID number, QR code and signature → Django template →
   WeasyPrint with the project's URL fetcher and the shared font configuration) against
   ``weasyprint.HTML(string=html).write_pdf()`` of the same HTML, alternating, in the same
   process. Target: at most 1.1× the bare time. Bare WeasyPrint is measured twice: with its
   defaults (a new FontConfiguration per render) and with one shared FontConfiguration (the
   stricter baseline).
3. **Re-print vs render.** ``printing.pledge_pdf_print`` of a stored form by a window clerk
   (row read, storage check, audit event, bytes read) against rendering it. Target: at
   least 20× faster.
4. **Memory.** Resident set size of this process after ``--prints`` consecutive renders
   through the pipeline (target: at most 300 MB), and, in a child process, of bare
   WeasyPrint with its defaults over ``--baseline-prints`` renders.
5. **Size.** The two-copy PDF, tagged PDF/UA-1 as printed (target: at most 150 KB), the same
   HTML with Noto Sans CJK SC first in the font stack (the alternative the stack was chosen
   against), and the same form untagged (what tagging costs).

Exit status 0 when every target is met, 1 when one is missed.
"""

import argparse
import base64
import io
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def setup_django(workdir: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/print-bench.sqlite3"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def signature_data_uri() -> str:
    """A drawn signature as a phone canvas sends it: 600×180, a few strokes."""
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


def make_pledge():
    from django.contrib.auth.models import Group

    from accounts.models import Person, RegistryEntry, Unit, User
    from pledges.models import Matter
    from pledges.notice import default_notice, default_statements
    from pledges.services import (
        pledge_sign,
        template_new_version,
        template_publish,
        window_person_lookup,
    )

    department = Unit.objects.create(code="JY-MZ", name="济源市民政局", kind=Unit.Kind.DEPARTMENT)
    matter = Matter.objects.create(
        code="JY-MZ-001",
        name="最低生活保障申请",
        department=department,
        certificate="经济困难证明(开具:乡镇人民政府、街道办事处)",
        legal_basis="《社会救助暂行办法》第十一条",
        disposition="pledge",
        verification_methods=["data_check", "onsite"],
        verification_days=20,
    )
    template = template_new_version(
        matter=matter, notice=default_notice(matter), statements=default_statements(matter)
    )
    template_publish(template=template)
    person = Person(name="王𠮷明", phone="13912345678", address="沁园街道示范路1号")
    person.set_id_number("11010519491231002X")
    person.save()
    RegistryEntry.objects.get_or_create(id_hash=person.id_hash, defaults={"name": person.name})
    resident = User.objects.create_user("bench-resident", password="x", person=person)
    resident.groups.add(Group.objects.get(name="resident"))
    clerk = User.objects.create_user("bench-clerk", password="x", unit=department)
    clerk.groups.add(Group.objects.get(name="window_clerk"))
    pledge = pledge_sign(
        matter=matter,
        applicant={"name": person.name, "id_number": "11010519491231002X"},
        actor=resident,
        statements_accepted=True,
        typed_name=person.name,
        signature_image=signature_data_uri(),
    )
    # The clerk looks the resident up by ID card at the window, which is what lets a window
    # print an online pledge (pledges.selectors.window_scope).
    window_person_lookup(actor=clerk, id_number="11010519491231002X")
    return pledge, clerk


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def child_bare_rss(html_path: str, prints: int) -> None:
    """Run in a child process: bare WeasyPrint with its defaults, RSS after ``prints``."""
    import weasyprint

    html = Path(html_path).read_text()
    before = rss_mb()
    for _ in range(prints):
        weasyprint.HTML(string=html).write_pdf()
    print(f"{before:.1f} {rss_mb():.1f}")


def child_pipeline_rss(workdir: str, pledge_pk: int, prints: int) -> None:
    """Run in a child process: RSS after ``prints`` renders through the pipeline."""
    setup_django(workdir)
    from pledges import printing
    from pledges.models import Pledge

    pledge = Pledge.objects.get(pk=pledge_pk)
    start = rss_mb()
    checkpoints = {}
    for i in range(1, prints + 1):
        printing.pledge_form_render(pledge)
        if i in (1, 10, 50, 100, 250) or i == prints:
            checkpoints[i] = rss_mb()
    trail = " · ".join(f"{n}: {mb:.0f}" for n, mb in checkpoints.items())
    print(
        f"3. RSS of a fresh process after {prints} consecutive prints through the pipeline: "
        f"{checkpoints[prints]:.0f} MB (target ≤ 300 MB; {start:.0f} MB after set-up; "
        f"after n prints: {trail}) RSS_FINAL={checkpoints[prints]:.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed renders of each kind")
    parser.add_argument("--prints", type=int, default=500, help="renders for the RSS figure")
    parser.add_argument("--baseline-prints", type=int, default=100)
    parser.add_argument("--child-bare-rss", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-pipeline-rss", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_pipeline_rss:
        workdir, pledge_pk, prints = args.child_pipeline_rss
        child_pipeline_rss(workdir, int(pledge_pk), int(prints))
        return 0
    if args.child_bare_rss:
        child_bare_rss(args.child_bare_rss[0], int(args.child_bare_rss[1]))
        return 0

    workdir = tempfile.mkdtemp(prefix="print-bench-")
    setup_django(workdir)
    import weasyprint
    from django.db import connection

    from pledges import pdf, printing
    from pledges.models import Pledge

    pledge, clerk = make_pledge()
    html = printing.pledge_form_html(pledge)
    print(
        f"machine: {platform.node()} · {os.cpu_count()} cores · Python "
        f"{platform.python_version()} · WeasyPrint {weasyprint.__version__} · "
        f"{connection.vendor} · {time.strftime('%Y-%m-%d %H:%M')}"
    )
    results = {}

    # Warm up both (imports, fontconfig caches, the shared FontConfiguration).
    printing.pledge_form_render(pledge)
    weasyprint.HTML(string=html).write_pdf()
    from weasyprint.text.fonts import FontConfiguration

    shared = FontConfiguration()
    weasyprint.HTML(string=html).write_pdf(font_config=shared)

    # 1. Pipeline vs bare WeasyPrint, alternating.
    pipeline, bare, bare_shared = [], [], []
    for _ in range(args.rounds):
        pipeline.append(timed(printing.pledge_form_render, pledge)[0])
        bare.append(timed(lambda: weasyprint.HTML(string=html).write_pdf())[0])
        bare_shared.append(
            timed(lambda: weasyprint.HTML(string=html).write_pdf(font_config=shared))[0]
        )
    p, b, bs = (statistics.median(x) for x in (pipeline, bare, bare_shared))
    results["pipeline_ratio"] = p / b
    print(
        f"1. render, median of {args.rounds}: pipeline {p * 1000:.0f} ms · bare WeasyPrint "
        f"(defaults) {b * 1000:.0f} ms · bare (shared FontConfiguration) {bs * 1000:.0f} ms"
    )
    print(
        f"   ratio pipeline / bare = {p / b:.2f}× (target ≤ 1.10×); "
        f"pipeline / bare-shared = {p / bs:.2f}×"
    )

    # 2. Re-print of the stored form vs rendering.
    printing.pledge_pdf_store(pledge=pledge)

    def reprint():
        stored = printing.pledge_pdf_print(
            pledge=Pledge.objects.get(pk=pledge.pk), actor=clerk, via="bench"
        )
        with printing.open_stored_pdf(stored) as handle:
            return handle.read()

    reprint()
    reprints = [timed(reprint)[0] for _ in range(max(args.rounds * 4, 50))]
    r = statistics.median(reprints)
    results["reprint_speedup"] = p / r
    print(
        f"2. re-print of the stored form: {r * 1000:.2f} ms (median of {len(reprints)}) vs "
        f"render {p * 1000:.0f} ms: {p / r:.0f}× faster (target ≥ 20×)"
    )

    # 4. Size (before the long memory run).
    data = printing.pledge_form_render(pledge)
    results["size_kb"] = len(data) / 1024
    noto_first = html.replace(
        '"WenQuanYi Micro Hei", ', '"Noto Sans CJK SC", "WenQuanYi Micro Hei", ', 1
    )
    noto_size = len(pdf.render_pdf(noto_first, accessible=True)) / 1024
    plain_name = html.replace("王𠮷明", "王吉明")
    plain_size = len(pdf.render_pdf(plain_name, accessible=True)) / 1024
    untagged_size = len(pdf.render_pdf(html)) / 1024
    signature = len(base64.b64decode(signature_data_uri().split(",", 1)[1])) / 1024
    print(
        f"4. two-copy PDF (tagged, PDF/UA-1): {len(data) / 1024:.1f} KB (target ≤ 150 KB; "
        f"{signature:.1f} KB signature PNG included, name with 𠮷) · without the Extension B "
        f"character {plain_size:.1f} KB · Noto Sans CJK SC first {noto_size:.1f} KB · "
        f"untagged {untagged_size:.1f} KB"
    )

    # 3. Memory: each side in a fresh process (this one has run bare renders above).
    html_path = Path(workdir) / "form.html"
    html_path.write_text(html)
    connection.close()
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child-pipeline-rss",
            workdir,
            str(pledge.pk),
            str(args.prints),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    print(child.stdout.rstrip())
    results["rss_mb"] = float(child.stdout.split("RSS_FINAL=")[1].split()[0])
    child = subprocess.run(
        [sys.executable, __file__, "--child-bare-rss", str(html_path), str(args.baseline_prints)],
        capture_output=True,
        text=True,
        check=True,
    )
    before, after = child.stdout.split()
    print(
        f"   baseline, bare WeasyPrint with defaults in a fresh process: {after} MB after "
        f"{args.baseline_prints} prints ({before} MB after importing it)"
    )

    ok = (
        results["pipeline_ratio"] <= 1.10
        and results["reprint_speedup"] >= 20
        and results["rss_mb"] <= 300
        and results["size_kb"] <= 150
    )
    print("all targets met" if ok else "a target was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
