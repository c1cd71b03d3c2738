"""The quarterly report (季度报送) as charts, XLSX and PDF, built from ``quarterly_figures``."""

from __future__ import annotations

import datetime as dt

from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from . import charts, xlsx

UNIT_COLUMNS = (
    ("pledges_online", gettext_noop("Pledges signed online")),
    ("pledges_window", gettext_noop("Pledges signed at the window")),
    ("certificates_chosen", gettext_noop("Certificates chosen instead")),
    ("withdrawals", gettext_noop("Withdrawals")),
    ("checks_finished", gettext_noop("Checks finished")),
    ("false_found", gettext_noop("Found false")),
    ("false_rate", gettext_noop("False-pledge rate")),
    ("credit_records", gettext_noop("Credit records")),
    ("complaints", gettext_noop("Complaints")),
    ("corrections", gettext_noop("Corrections")),
    ("overdue", gettext_noop("Overdue")),
)


def unit_columns() -> list[tuple[str, str]]:
    return [(key, _(label)) for key, label in UNIT_COLUMNS]


def summary_rows(figures: dict) -> list[tuple[str, object]]:
    s = figures["summary"]
    rows = [
        (_("Pledges signed online"), s["pledges_online"]),
        (_("Pledges signed at the window"), s["pledges_window"]),
        (_("Certificates chosen instead"), s["certificates_chosen"]),
        (_("Withdrawals"), s["withdrawals"]),
        (_("Spot-check draws"), s["draws"]),
        (_("Checks finished"), s["checks_finished"]),
        (_("Pledges found false"), s["false_found"]),
        (_("False-pledge rate"), percent(s["false_rate"])),
        (_("Credit records decided"), s["credit_records"]),
        (_("Objections filed"), s["objections_filed"]),
        (_("Objections upheld"), s["objections_upheld"]),
        (_("Repair applications"), s["repairs_applied"]),
        (_("Repairs approved"), s["repairs_approved"]),
        (_("Complaints received"), s["complaints"]),
        (_("Corrections made"), s["corrections"]),
        (_("Overdue items"), s["overdue_items"]),
    ]
    return rows


def findings_rows(figures: dict) -> list[tuple[str, int]]:
    labels = figures.get("labels", {}).get("findings", {})
    return [(labels.get(key, key), count) for key, count in figures["findings"].items()]


def severity_rows(figures: dict) -> list[tuple[str, int]]:
    labels = figures.get("labels", {}).get("severity", {})
    return [(labels.get(key, key), count) for key, count in figures["credit_by_severity"].items()]


def percent(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def cell(entry: dict, key: str):
    value = entry.get(key)
    if key.endswith("_rate") or key == "pledge_share":
        return percent(value)
    return value


def build_charts(figures: dict) -> dict:
    """The dashboard's and the PDF's charts: monthly trend, rates per matter."""
    trend = figures["trend"]
    labels = [row["month"][2:].replace("-", "/") for row in trend]
    monthly = charts.line_chart(
        labels=labels,
        series=[
            (_("Signed online"), [row["online"] for row in trend]),
            (_("Signed at the window"), [row["window"] for row in trend]),
            (_("Certificates chosen"), [row["certificates"] for row in trend]),
            (_("Complaints"), [row["complaints"] for row in trend]),
        ],
        title=_("Monthly trend, last 12 months"),
        chart_id="chart-trend",
    )
    matters = [m for m in figures["by_matter"] if m["pledges"] or m["certificates_chosen"]]
    matters.sort(key=lambda m: -(m["pledges"] + m["certificates_chosen"]))
    share = charts.bar_chart(
        items=[(m["name"], m["pledge_share"]) for m in matters[:12]],
        title=_("Pledge rate per matter (pledges / all applications)"),
        chart_id="chart-share",
        empty_text=_("No applications this quarter."),
    )
    checked = [m for m in figures["by_matter"] if m["checks_finished"]]
    checked.sort(key=lambda m: -(m["false_rate"] or 0))
    false_rate = charts.bar_chart(
        items=[(m["name"], m["false_rate"]) for m in checked[:12]],
        title=_("False-pledge rate per matter (of checks finished)"),
        chart_id="chart-false",
        empty_text=_("No check finished this quarter."),
    )
    return {"trend": monthly, "share": share, "false_rate": false_rate}


def _unit_table(entries: list[dict]) -> tuple[list[str], list[list]]:
    headers = [_("Code"), _("Name")] + [label for _key, label in unit_columns()]
    rows = [
        [entry["code"], entry["name"]] + [cell(entry, key) for key, _label in unit_columns()]
        for entry in entries
    ]
    return headers, rows


def render_xlsx(figures: dict) -> bytes:
    quarter = figures["quarter"]
    summary = [[label, value] for label, value in summary_rows(figures)]
    summary += [[_("Findings: %(result)s") % {"result": k}, v] for k, v in findings_rows(figures)]
    summary += [
        [_("Credit records: %(severity)s") % {"severity": k}, v] for k, v in severity_rows(figures)
    ]
    sheets = [
        (_("Summary"), [_("Figure"), quarter], summary),
        (_("By department"), *_unit_table(figures["by_department"])),
        (_("By town"), *_unit_table(figures["by_town"])),
        (_("By matter"), *_unit_table(figures["by_matter"])),
        (
            _("Monthly trend"),
            [
                _("Month"),
                _("Signed online"),
                _("Signed at the window"),
                _("Certificates chosen"),
                _("Complaints"),
            ],
            [
                [r["month"], r["online"], r["window"], r["certificates"], r["complaints"]]
                for r in figures["trend"]
            ],
        ),
    ]
    return xlsx.report_bytes(sheets)


def render_pdf(figures: dict) -> bytes:
    from pledges import pdf

    html = render_to_string(
        "oversight/print/report.html",
        {
            "figures": figures,
            "summary_rows": summary_rows(figures),
            "findings_rows": findings_rows(figures),
            "severity_rows": severity_rows(figures),
            "charts": build_charts(figures),
            "columns": unit_columns(),
            "tables": [
                (_("By department"), table_rows(figures["by_department"])),
                (_("By town or street"), table_rows(figures["by_town"])),
                (_("By matter"), table_rows(figures["by_matter"])),
            ],
            "font_stack": pdf.font_stack_css(),
        },
    )
    return pdf.render_pdf(html, title=f"report {figures['quarter']}")


def table_rows(entries: list[dict]) -> list[dict]:
    return [
        {"code": e["code"], "name": e["name"], "cells": [cell(e, k) for k, _l in unit_columns()]}
        for e in entries
    ]


def jsonable(value):
    """Figures with dates as ISO strings, for the JSON snapshot and the API."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value
