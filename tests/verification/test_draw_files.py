"""A draw's population file is named by (plan, cutoff): a draw run again after its worker died
writes over the file the dead run left, instead of leaving it beside a second one."""

import hashlib
from pathlib import Path

from django.core.files.base import ContentFile
from django.utils import timezone

from tests.verification.conftest import make_plan, make_pledges
from verification import services
from verification.models import Draw


def test_a_population_file_left_by_a_killed_draw_is_written_over(officers, matter):
    make_pledges(matter, 8)
    plan = make_plan(matter=matter, ratio="0.5")
    cutoff = timezone.now()
    storage = Draw._meta.get_field("population_file").storage
    stamp = timezone.localtime(cutoff).strftime("%Y%m%dT%H%M%S%f")
    leftover = f"draws/plan{plan.pk}-{stamp}.tsv"
    storage.save(leftover, ContentFile(b"half a population file"))

    draw = services.draw_execute(plan=plan, cutoff=cutoff)

    assert draw.population_file.name == leftover
    content = draw.population_file.read()
    assert hashlib.sha256(content).hexdigest() == draw.population_sha256
    assert len(content.decode().splitlines()) == 8
    folder = Path(storage.path("draws"))
    assert [p.name for p in folder.glob(f"plan{plan.pk}-{stamp}*")] == [Path(leftover).name]
