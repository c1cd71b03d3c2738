"""Data-source adapters for the online data check (网络核验).

An adapter answers one question about one pledge: what does the data source say about the
applicant for this matter? Each matter may name its adapter (``DataSource``); the built-in
``LocalRegistryAdapter`` reads a local registry table loaded from CSV, so the demo works
offline. An adapter for a real shared-data platform subclasses ``DataSourceAdapter`` and is
named by its dotted path.
"""

import csv
import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts import id_numbers

from . import conf

DEMO_REGISTRY_CSV = Path(__file__).resolve().parent / "data" / "registry_demo.csv"


@dataclass(frozen=True)
class AdapterAnswer:
    """What the data source said. ``verdict``: ``confirms``, ``contradicts`` or ``no_record``."""

    adapter: str
    dataset: str
    verdict: str
    summary: str
    records: list[dict] = field(default_factory=list)
    asked_at: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class DataSourceAdapter:
    """Base class: ask the data source about a pledge's applicant for its matter."""

    code = "base"

    def __init__(self, *, dataset: str = "", options: dict | None = None):
        self.dataset = dataset
        self.options = options or {}

    def query(self, *, pledge) -> AdapterAnswer:  # pragma: no cover - interface
        raise NotImplementedError


class LocalRegistryAdapter(DataSourceAdapter):
    """Reads ``RegistryRecord`` rows (keyed hash of the ID number, never the number)."""

    code = "local_registry"

    def query(self, *, pledge) -> AdapterAnswer:
        from .models import RegistryRecord

        records = RegistryRecord.objects.filter(id_hash=pledge.person.id_hash)
        if self.dataset:
            records = records.filter(dataset=self.dataset)
        rows = [
            {
                "dataset": r.dataset,
                "name": r.name,
                "fact": r.fact,
                "detail": r.detail,
                "recorded_on": r.recorded_on.isoformat() if r.recorded_on else None,
            }
            for r in records.order_by("dataset", "id")
        ]
        if not rows:
            verdict, summary = "no_record", "本地登记库中无该申请人的记录。"
        elif any(r["fact"] == "contradicts" for r in rows):
            verdict = "contradicts"
            summary = "；".join(r["detail"] for r in rows if r["fact"] == "contradicts")
        else:
            verdict = "confirms"
            summary = "；".join(r["detail"] for r in rows) or "登记信息与承诺一致。"
        return AdapterAnswer(
            adapter=f"{type(self).__module__}.{type(self).__qualname__}",
            dataset=self.dataset or "*",
            verdict=verdict,
            summary=summary,
            records=rows,
            asked_at=timezone.now().isoformat(),
        )


def adapter_for(matter) -> DataSourceAdapter:
    """The matter's configured adapter, or the default one."""
    from .models import DataSource

    source = DataSource.objects.filter(matter=matter).first()
    path = source.adapter if source else conf.default_adapter()
    cls = import_string(path)
    if not (isinstance(cls, type) and issubclass(cls, DataSourceAdapter)):
        raise TypeError(f"{path} is not a DataSourceAdapter")
    return cls(
        dataset=(source.dataset if source else conf.default_dataset()),
        options=(source.options if source else {}),
    )


def load_registry_csv(path: Path = DEMO_REGISTRY_CSV) -> int:
    """Load registry lines ``dataset,id_number,name,fact,detail,recorded_on`` idempotently.

    The ID number is turned into its keyed hash on the way in and never stored.
    """
    from .models import RegistryRecord

    created = 0
    with open(path, encoding="utf-8", newline="") as handle, transaction.atomic():
        for row in csv.DictReader(handle):
            number = id_numbers.validate(row["id_number"].strip())
            recorded = (row.get("recorded_on") or "").strip()
            _, was_created = RegistryRecord.objects.get_or_create(
                dataset=row["dataset"].strip(),
                id_hash=id_numbers.keyed_hash(number),
                defaults={
                    "name": row["name"].strip(),
                    "fact": row["fact"].strip(),
                    "detail": (row.get("detail") or "").strip(),
                    "recorded_on": dt.date.fromisoformat(recorded) if recorded else None,
                },
            )
            created += was_created
    return created
