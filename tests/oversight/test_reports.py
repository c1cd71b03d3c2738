"""Quarterly figures (季度报送): correct on known data, charts, exports with progress, the
beat task that prepares each quarter's report."""

import datetime as dt
import io
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from openpyxl import load_workbook

from core.models import BackgroundJob
from credit.models import CreditRecord, Objection, RepairApplication
from oversight import charts, quarters, selectors, services
from oversight.models import Complaint, QuarterlyReport
from pledges.models import CertificateChoice, Pledge, PledgeStatus
from tests.conftest import client_for
from tests.factories import MatterFactory, PersonFactory, login_staff, make_staff
from verification.models import CheckTask, Draw, Finding, SpotCheckPlan

from .conftest import pdf_text

pytestmark = pytest.mark.django_db

ZONE = timezone.get_default_timezone()
_numbers = itertools.count(1)


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=ZONE)


def pledge(matter, day, *, channel="online", town=None, person=None, status=None, **extra):
    person = person or PersonFactory(town=town)
    return Pledge.objects.create(
        number=f"CN-2026-{next(_numbers):06d}",
        matter=matter,
        template=matter.current_template(),
        person=person,
        applicant_name=person.name,
        applicant_town=town,
        channel=channel,
        status=status or PledgeStatus.SIGNED,
        content={"title": matter.name},
        content_sha256="0" * 64,
        statements_accepted=True,
        signed_at=at(day),
        **extra,
    )


def finding(plan, draw, target, result, day, officer):
    task = CheckTask.objects.create(
        origin="draw",
        draw=draw,
        pledge=target,
        matter=target.matter,
        method="written",
        lead=officer,
        status="done",
        due_date=dt.date.fromisoformat(day),
    )
    return Finding.objects.create(
        task=task,
        result=result,
        method="written",
        reason="核查",
        recorded_by=officer,
        recorded_at=at(day),
        effective_at=at(day),
    )


def credit_record(person, severity, day, number):
    return CreditRecord.objects.create(
        person=person,
        kind="false_pledge",
        state="confirmed",
        source=f"test:{number}",
        matter_name="低保申请",
        severity=severity,
        decided_on=dt.date.fromisoformat(day),
        decided_at=at(day),
        publication_ends_on=dt.date.fromisoformat(day) + dt.timedelta(days=365),
    )


@pytest.fixture
def quarter_data(departments, town, officer):
    """Known activity in 2026Q4 (and some in Q3 that must not count)."""
    other_town = town.__class__.objects.create(code="419001-J01", name="沁园街道", kind="street")
    low = MatterFactory(code="SF-001", name="低保申请", department=departments["SF"])
    school = MatterFactory(code="MZ-001", name="入学申请", department=departments["MZ"])
    signed = [
        pledge(low, "2026-10-05", town=town),
        pledge(low, "2026-10-20", town=town),
        pledge(low, "2026-11-02", town=other_town),
        pledge(low, "2026-11-15", channel="window", town=town),
        pledge(low, "2026-12-01", channel="window", town=town),
        pledge(school, "2026-12-10", town=other_town),
    ]
    pledge(school, "2026-09-28", town=town)  # Q3
    signed[1].status = PledgeStatus.WITHDRAWN
    signed[1].withdrawn_at = at("2026-10-22")
    signed[1].save()
    chooser = PersonFactory(town=town)
    CertificateChoice.objects.create(matter=low, person=chooser, chosen_at=at("2026-10-06"))
    CertificateChoice.objects.create(matter=low, person=chooser, chosen_at=at("2026-11-06"))
    CertificateChoice.objects.create(matter=school, person=chooser, chosen_at=at("2026-07-06"))

    checker = make_staff("verification_officer", "checker")
    plan = SpotCheckPlan.objects.create(name="plan", matter=low, ratio=Decimal("0.5"))
    draw = Draw.objects.create(
        plan=plan,
        cutoff=at("2026-11-30"),
        trigger="manual",
        seed="s",
        algorithm_version="v1",
        ratio=Decimal("0.5"),
        minimum=1,
        credit_weight=Decimal("2"),
        population_sha256="0" * 64,
        population_count=6,
        drawn_count=4,
        result_sha256="0" * 64,
        drawn_at=at("2026-11-30"),
    )
    finding(plan, draw, signed[0], "truthful", "2026-12-05", checker)
    finding(plan, draw, signed[2], "truthful", "2026-12-06", checker)
    finding(plan, draw, signed[3], "false", "2026-12-07", checker)
    finding(plan, draw, signed[5], "unverifiable", "2026-12-08", checker)
    CheckTask.objects.create(  # open and past its due date: overdue
        origin="draw",
        draw=draw,
        pledge=signed[4],
        matter=low,
        method="written",
        lead=checker,
        due_date=timezone.localdate() - dt.timedelta(days=1),
    )

    person = signed[3].person
    records = [
        credit_record(person, "general", "2026-12-10", 1),
        credit_record(PersonFactory(town=town), "general", "2026-12-11", 2),
        credit_record(PersonFactory(), "serious", "2026-11-11", 3),
        credit_record(PersonFactory(), "minor", "2026-09-11", 4),  # Q3
    ]
    Objection.objects.create(
        record=records[0],
        person=person,
        reasons="异议",
        status="upheld",
        filed_at=at("2026-12-12"),
        due_on=dt.date(2026, 12, 30),
        decided_at=at("2026-12-20"),
    )
    RepairApplication.objects.create(
        record=records[2],
        person=records[2].person,
        credit_pledge="承诺",
        correction="纠正",
        applied_at=at("2026-12-15"),
        due_on=dt.date(2026, 12, 30),
    )

    def complaint(number, day, **extra):
        return Complaint.objects.create(
            tracking_number=f"TS-2026-{number:06d}",
            agency="某银行",
            certificate="亲属关系证明",
            description="x",
            occurred_on=dt.date.fromisoformat(day),
            received_at=at(day),
            **extra,
        )

    complaint(
        1,
        "2026-10-10",
        status="corrected",
        superior=departments["MZ"],
        forwarded_at=at("2026-10-11"),
        corrected_at=at("2026-10-20"),
    )
    complaint(
        2,
        "2026-11-10",
        channel="hotline",
        status="forwarded",
        superior=departments["MZ"],
        forwarded_at=at("2026-11-11"),
        correction_deadline=dt.date(2026, 11, 25),
        overdue_since=dt.date(2026, 11, 25),
    )
    complaint(3, "2026-08-10")  # Q3
    return {"low": low, "school": school}


def by_code(entries):
    return {entry["code"]: entry for entry in entries}


def test_quarterly_figures_count_what_happened_in_the_quarter(quarter_data):
    figures = selectors.quarterly_figures("2026Q4")
    s = figures["summary"]
    assert (s["pledges_online"], s["pledges_window"], s["pledges"]) == (4, 2, 6)
    assert s["certificates_chosen"] == 2
    assert s["withdrawals"] == 1
    assert s["draws"] == 1
    assert s["checks_finished"] == 4
    assert s["false_found"] == 1
    assert s["false_rate"] == 0.25
    assert figures["findings"] == {"truthful": 2, "false": 1, "unverifiable": 1}
    assert figures["credit_by_severity"] == {"minor": 0, "general": 2, "serious": 1}
    assert s["credit_records"] == 3
    assert (s["objections_filed"], s["objections_upheld"]) == (1, 1)
    assert (s["repairs_applied"], s["repairs_approved"]) == (1, 0)
    assert figures["complaints"]["received"] == 2
    assert figures["complaints"]["hotline"] == 1
    assert s["corrections"] == 1
    assert figures["overdue"] == {"complaints": 1, "checks": 1, "objections": 0, "repairs": 0}
    assert s["overdue_items"] == 2

    departments = by_code(figures["by_department"])
    assert departments["SF"]["pledges_online"] == 3 and departments["SF"]["pledges_window"] == 2
    assert departments["SF"]["checks_finished"] == 3 and departments["SF"]["false_found"] == 1
    assert departments["MZ"]["pledges"] == 1
    assert departments["MZ"]["complaints"] == 2 and departments["MZ"]["corrections"] == 1
    assert departments["MZ"]["overdue"] == 1

    towns = by_code(figures["by_town"])
    assert towns["419001-Z01"]["pledges"] == 4
    assert towns["419001-Z01"]["certificates_chosen"] == 2
    assert towns["419001-Z01"]["withdrawals"] == 1
    assert towns["419001-J01"]["pledges"] == 2

    matters = by_code(figures["by_matter"])
    low = matters["SF-001"]
    assert (low["pledges"], low["certificates_chosen"], low["withdrawals"]) == (5, 2, 1)
    assert low["false_rate"] == round(1 / 3, 4)
    assert low["pledge_share"] == round(5 / 7, 4)
    assert matters["MZ-001"]["false_rate"] == 0.0

    trend = {row["month"]: row for row in figures["trend"]}
    assert len(figures["trend"]) == 12
    assert trend["2026-10"]["online"] == 2 and trend["2026-11"]["window"] == 1
    assert trend["2026-09"]["online"] == 1  # Q3 shows in the trend, not in the quarter
    assert trend["2026-07"]["certificates"] == 1
    assert trend["2026-08"]["complaints"] == 1


def test_a_quarter_with_nothing_reports_zeros_and_no_rate(db):
    figures = selectors.quarterly_figures("2025Q1")
    assert figures["summary"]["pledges"] == 0
    assert figures["summary"]["false_rate"] is None
    assert figures["by_matter"] == []


def test_quarters_parse_and_bound():
    assert quarters.parse("2026q4") == "2026Q4"
    assert quarters.bounds("2026Q1") == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert quarters.bounds("2026Q4") == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert quarters.previous("2026Q1") == "2025Q4"
    assert quarters.of(dt.date(2026, 7, 1)) == "2026Q3"
    for bad in ("2026Q5", "26Q1", "", "2026-13"):
        with pytest.raises(quarters.InvalidQuarter):
            quarters.parse(bad)


# ---- API and pages ----------------------------------------------------------------------


def test_the_api_gives_the_figures_for_a_quarter_and_the_current_one_by_default(
    quarter_data, officer
):
    client = client_for(officer)
    response = client.get("/api/v1/reports/quarterly/", {"quarter": "2026Q4"})
    assert response.status_code == 200
    assert response.json()["summary"]["pledges"] == 6
    assert response.json()["start"] == "2026-10-01"
    current = client.get("/api/v1/reports/quarterly/").json()
    assert current["quarter"] == quarters.of(timezone.localdate())
    bad = client.get("/api/v1/reports/quarterly/", {"quarter": "2026Q9"})
    assert bad.status_code == 400 and "quarter" in bad.json()


def test_the_dashboard_renders_its_charts_for_staff(quarter_data, officer, client, resident):
    login_staff(client, officer)
    response = client.get("/bureau/", {"quarter": "2026Q4"})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("<svg") == 3
    assert 'id="chart-trend-title"' in page
    assert "低保申请" in page
    resident_client = client.__class__()
    resident_client.force_login(resident)
    assert resident_client.get("/bureau/").status_code == 403


def test_exports_run_in_the_background_with_progress_and_download(
    quarter_data,
    officer,
    client,
    django_capture_on_commit_callbacks,
    tmp_path,
    no_weasyprint_warnings,
):
    api = client_for(officer)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/reports/quarterly/export/",
            {"quarter": "2026Q4", "format": "xlsx"},
            format="json",
        )
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    status = api.get(f"/api/v1/reports/quarterly/jobs/{job_id}/").json()
    assert status["status"] == "done" and status["percent"] == 100
    download = api.get(f"/api/v1/reports/quarterly/jobs/{job_id}/file/")
    assert download.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(download.streaming_content)))
    assert len(workbook.sheetnames) == 5
    summary = {row[0]: row[1] for row in workbook.worksheets[0].iter_rows(values_only=True)}
    assert summary["Pledges signed online"] == 4

    login_staff(client, officer)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post("/bureau/reports/export/", {"quarter": "2026Q4", "format": "pdf"})
    assert page.status_code == 302
    job = BackgroundJob.objects.get(pk=page["Location"].rstrip("/").rsplit("/", 1)[-1])
    assert job.status == "done"
    progress_page = client.get(page["Location"]).content.decode()
    assert 'value="100"' in progress_page and "job-download" in progress_page
    pdf = b"".join(client.get(f"/bureau/jobs/{job.pk}/download/").streaming_content)
    text = pdf_text(pdf, tmp_path)
    assert "2026Q4" in text
    assert "Monthly trend" in text  # the SVG chart's title is drawn as text
    assert "低保申请" in text


def test_only_oversight_officers_export_and_others_cannot_read_the_job(quarter_data, staff):
    clerk = client_for(staff["window_clerk"])
    response = clerk.post(
        "/api/v1/reports/quarterly/export/", {"quarter": "2026Q4", "format": "pdf"}, format="json"
    )
    assert response.status_code == 403
    job = BackgroundJob.objects.create(
        kind=services.REPORT_EXPORT_JOB, owner=staff["oversight_officer"]
    )
    assert clerk.get(f"/api/v1/reports/quarterly/jobs/{job.pk}/").status_code == 404


def test_the_beat_task_prepares_the_quarter_that_just_ended_once(quarter_data, officer, client):
    from freezegun import freeze_time

    from oversight.tasks import prepare_quarterly_report

    with freeze_time("2027-01-01 01:30:00"):
        assert prepare_quarterly_report.delay().get() == "2026Q4"
    report = QuarterlyReport.objects.get(quarter="2026Q4")
    assert report.figures["summary"]["pledges"] == 6
    assert report.xlsx.name and report.pdf.name
    prepared_at = report.prepared_at
    prepare_quarterly_report.delay("2026Q4").get()
    report.refresh_from_db()
    assert report.prepared_at == prepared_at  # safe to run twice
    assert QuarterlyReport.objects.count() == 1
    login_staff(client, officer)
    assert "prepared.pdf" in client.get("/bureau/", {"quarter": "2026Q4"}).content.decode()
    response = client.get("/bureau/reports/2026Q4/prepared.pdf")
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert (
        client_for(officer)
        .get("/api/v1/reports/quarterly/", {"quarter": "2026Q4"})
        .json()["prepared"]["pdf_url"]
        .endswith("/bureau/reports/2026Q4/prepared.pdf")
    )


def test_beat_entries_are_registered_with_crontabs():
    flag = PeriodicTask.objects.get(task="oversight.flag_overdue_complaints")
    assert flag.crontab is not None and flag.enabled
    prepare = PeriodicTask.objects.get(task="oversight.prepare_quarterly_report")
    assert prepare.crontab.day_of_month == "1"
    assert prepare.crontab.month_of_year == "1,4,7,10"
    assert str(prepare.crontab.timezone) == "Asia/Shanghai"


# ---- charts -----------------------------------------------------------------------------


def test_charts_escape_labels_and_print_every_figure():
    svg = charts.bar_chart(
        items=[("<script>alert(1)</script>", 0.5), ("无数据", None)],
        title="费率 & <b>",
        empty_text="—",
    )
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "50.0%" in svg
    assert "费率 &amp; &lt;b&gt;" in svg
    line = charts.line_chart(
        labels=["26/10", "26/11"], series=[("线上", [3, 7]), ("窗口", [0, 2])], title="趋势"
    )
    assert line.count("<polyline") == 2
    assert ">7<" in line and ">2<" in line
    assert 'stroke-dasharray="6 4"' in line  # series differ by dash, not only colour
