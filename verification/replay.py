"""Recompute a draw from what it recorded (``manage.py replay_draw``).

The population file is checked against its digest, the sample recomputed from the file and
the seed with the reference implementation in :mod:`verification.sampling` (not the SQL
that drew it), and compared with the stored result digest and with the tasks in the
database; the officers drawn are recomputed from the recorded officer directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field

from . import sampling
from .models import CheckTask, Draw


@dataclass
class ReplayReport:
    draw: Draw
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return all(ok for _name, ok, _detail in self.checks)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append((name, ok, detail))


def draw_replay(draw: Draw) -> ReplayReport:
    report = ReplayReport(draw=draw)
    report.add(
        "algorithm",
        draw.algorithm_version == sampling.ALGORITHM_VERSION,
        f"recorded {draw.algorithm_version}, this code {sampling.ALGORITHM_VERSION}",
    )
    if not draw.population_file:
        report.add("population file", False, "missing")
        return report
    # Copy the stored file to a local path (the storage may be remote), in chunks.
    with (
        tempfile.NamedTemporaryFile(delete=False) as local,
        draw.population_file.open("rb") as stored,
    ):
        shutil.copyfileobj(stored, local, 1024 * 1024)
    try:
        sha, count, sizes, drawn = sampling.replay_file(
            local.name,
            draw.seed,
            ratio_ppm=sampling.ratio_to_ppm(draw.ratio),
            minimum=draw.minimum,
        )
    finally:
        os.unlink(local.name)
    report.add(
        "population digest",
        sha == draw.population_sha256,
        f"file {sha}, recorded {draw.population_sha256}",
    )
    report.add(
        "population size", count == draw.population_count, f"{count} / {draw.population_count}"
    )
    recorded = {code: s["drawn"] for code, s in (draw.strata or {}).items()}
    recomputed = {code: len(numbers) for code, numbers in drawn.items() if numbers}
    report.add("drawn per matter", recorded == recomputed, f"{recomputed} / {recorded}")
    numbers = [n for stratum in drawn.values() for n in stratum]
    digest = sampling.result_digest(numbers)
    report.add("result digest", digest == draw.result_sha256, f"{digest} / {draw.result_sha256}")
    tasks = CheckTask.objects.filter(draw=draw)
    stored = sampling.result_digest(tasks.values_list("pledge__number", flat=True))
    report.add("tasks in the database", stored == digest, f"{tasks.count()} tasks")
    report.add(*_officers_match(draw, tasks))
    return report


def _officers_match(draw: Draw, tasks) -> tuple[str, bool, str]:
    officers = [tuple(row) for row in draw.officers]
    mismatches = 0
    rows = tasks.select_related("pledge").only(
        "method",
        "drawn_lead_id",
        "drawn_second_id",
        "pledge__number",
        "pledge__clerk_id",
        "pledge__applicant_town_id",
        "pledge__person_id",
    )
    for task in rows.iterator(chunk_size=2000):
        pledge = task.pledge
        eligible = [
            officer_id
            for officer_id, unit_id, person_id in officers
            if not (pledge.clerk_id and officer_id == pledge.clerk_id)
            and not (pledge.applicant_town_id and unit_id == pledge.applicant_town_id)
            and not (person_id and person_id == pledge.person_id)
        ]
        second = task.method == "onsite" and draw.officers_onsite >= 2
        lead_pos, second_pos = sampling.officer_positions(
            sampling.digest(draw.seed, pledge.number), len(eligible), second=second
        )
        lead = eligible[lead_pos] if lead_pos is not None else None
        other = eligible[second_pos] if second_pos is not None else None
        if (lead, other) != (task.drawn_lead_id, task.drawn_second_id):
            mismatches += 1
    return "officers drawn", mismatches == 0, f"{mismatches} differ"
