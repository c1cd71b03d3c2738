"""``manage.py replay_draw ID``: recompute a draw and report whether it matches.

Exit status 0 when everything recorded agrees with the recomputation, non-zero otherwise.
"""

from django.core.management.base import BaseCommand, CommandError

from verification.models import Draw
from verification.replay import draw_replay


class Command(BaseCommand):
    help = "Recompute a spot-check draw from its seed and population file; exit 0 on a match."

    def add_arguments(self, parser):
        parser.add_argument("draw_id", type=int)

    def handle(self, *args, draw_id, **options):
        draw = Draw.objects.select_related("plan").filter(pk=draw_id).first()
        if draw is None:
            raise CommandError(f"No draw {draw_id}.")
        report = draw_replay(draw)
        self.stdout.write(
            f"Draw {draw.pk} of plan {draw.plan} (cutoff {draw.cutoff.isoformat()}, "
            f"seed {draw.seed}, {draw.algorithm_version})"
        )
        for name, ok, detail in report.checks:
            self.stdout.write(f"  {'ok ' if ok else 'BAD'} {name}: {detail}")
        if not report.matches:
            raise CommandError(f"MISMATCH: draw {draw.pk} does not replay to what it recorded.")
        self.stdout.write(self.style.SUCCESS(f"MATCH: draw {draw.pk} replays exactly."))
