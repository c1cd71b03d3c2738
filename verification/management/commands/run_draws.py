"""``manage.py run_draws [--plan ID] [--dry-run]``: run spot-check draws by hand now.

Each draw covers the pledges signed since the plan's previous cutoff; a second run with no
new pledges draws nothing and still exits 0.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from verification import services
from verification.models import Draw, SpotCheckPlan


class Command(BaseCommand):
    help = "Run the spot-check draws of every active plan (or one) with the cutoff now."

    def add_arguments(self, parser):
        parser.add_argument("--plan", type=int, help="Only this plan (its id).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would be drawn; write nothing."
        )

    def handle(self, *args, plan=None, dry_run=False, **options):
        if plan is not None:
            plans = SpotCheckPlan.objects.filter(pk=plan)
            if not plans.exists():
                raise CommandError(f"No plan {plan}.")
        else:
            plans = SpotCheckPlan.objects.filter(active=True)
        now = timezone.now()
        total = 0
        for item in plans.order_by("id"):
            if dry_run:
                preview = services.draw_preview(plan=item, cutoff=now)
                self.stdout.write(
                    f"plan {item.pk} {item}: would draw {preview.drawn} of {preview.population}"
                    + "".join(
                        f"\n  {code}: {s['drawn']} of {s['size']}"
                        for code, s in preview.strata.items()
                    )
                )
                continue
            draw = services.draw_execute(plan=item, cutoff=now, trigger=Draw.Trigger.MANUAL)
            if draw is None:
                self.stdout.write(f"plan {item.pk} {item}: nothing to draw")
                continue
            total += draw.drawn_count
            self.stdout.write(
                f"plan {item.pk} {item}: draw {draw.pk} drew {draw.drawn_count} of "
                f"{draw.population_count} (seed {draw.seed}, population "
                f"{draw.population_sha256})"
            )
        if not dry_run:
            self.stdout.write(self.style.SUCCESS(f"{total} pledges drawn."))
