"""The public draw algorithm of spot checks (抽查抽取算法), version ``cn-draw-1``.

Anyone holding a draw's seed, its parameters and its population file can recompute the draw
with this module alone (no database, no Django). The database computes the same thing in SQL
(:func:`sample_sql`): PostgreSQL with its built-in ``sha256()``, SQLite through the functions
of :data:`SQLITE_FUNCTIONS`, registered on every connection.

Algorithm ``cn-draw-1``
-----------------------
1. The population file has one line per pledge, ``number TAB stratum TAB weight``, ordered by
   pledge number (bytewise), UTF-8, ``\\n`` line ends. Its SHA-256 is the population digest.
   The stratum is the matter's code; the weight is ``1`` or the plan's credit-history weight.
2. For each pledge, ``h = SHA-256(seed ‖ number)`` as 64 lowercase hex digits (the seed is the
   draw's 64 hex digits, concatenated with the number as text, UTF-8).
3. ``u = (int(h[0:13], 16) + 0.5) / 2**52``, a number in (0, 1) (IEEE-754 double).
4. ``rank = -ln(u) / weight``: the Efraimidis–Spirakis key. Keeping the k largest
   ``u ** (1 / weight)`` is keeping the k smallest ``-ln(u) / weight``; with equal weights
   every set of k pledges is equally likely.
5. In each stratum of size n, ``k = min(n, max(minimum, ceil(ratio × n)))``, the ratio given
   in parts per million so the ceiling is exact integer arithmetic; the k pledges with the
   smallest ``(rank, number)`` are drawn.
6. Officers: the active officers without a conflict with the pledge (the clerk who took it, an
   officer whose unit is the applicant's town or street, the applicant), ordered by account
   id. With ``a = int(h[13:26], 16)`` and ``b = int(h[26:39], 16)`` and m eligible officers,
   the lead is the eligible officer at position ``a mod m``; a second officer, where one is
   needed, is at position ``(a mod m + 1 + b mod (m - 1)) mod m``.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

ALGORITHM_VERSION = "cn-draw-1"
TWO_52 = 4503599627370496  # 2 ** 52
PPM = 1_000_000
SEED_PATTERN = re.compile(r"^[0-9a-f]{64}$")


# ---- one pledge ---------------------------------------------------------------------------


def digest(seed: str, number: str) -> str:
    """``SHA-256(seed ‖ number)`` as lowercase hex."""
    return hashlib.sha256(f"{seed}{number}".encode()).hexdigest()


def unit_from_hex(h: str) -> float:
    """The uniform number ``u`` in (0, 1) from the first 52 bits of a digest."""
    return (int(h[:13], 16) + 0.5) / TWO_52


def rank_from_hex(h: str, weight: float) -> float:
    """The Efraimidis–Spirakis rank ``-ln(u) / weight``; the smallest ranks are drawn."""
    return -math.log(unit_from_hex(h)) / weight


def pick_from_hex(h: str, offset: int) -> int:
    """A 52-bit integer from 13 hex digits of the digest starting at ``offset``."""
    return int(h[offset : offset + 13], 16)


def sample_size(n: int, *, ratio_ppm: int, minimum: int) -> int:
    """``min(n, max(minimum, ceil(ratio × n)))`` with the ratio in parts per million."""
    if n <= 0:
        return 0
    return min(n, max(minimum, (ratio_ppm * n + PPM - 1) // PPM))


def ratio_to_ppm(ratio: Decimal | float | str) -> int:
    value = Decimal(str(ratio))
    if not Decimal(0) <= value <= Decimal(1):
        raise ValueError("the ratio must be between 0 and 1")
    return int((value * PPM).to_integral_value())


def weight_text(weight: Decimal | float | int | str) -> str:
    """The canonical text of a weight in the population file: ``1``, ``2``, ``1.5``."""
    return format(Decimal(str(weight)).normalize(), "f")


def officer_positions(h: str, eligible: int, *, second: bool) -> tuple[int | None, int | None]:
    """Positions (0-based, in account-id order) of the lead and second officer."""
    if eligible <= 0:
        return None, None
    a = pick_from_hex(h, 13)
    lead = a % eligible
    if not second or eligible < 2:
        return lead, None
    b = pick_from_hex(h, 26)
    return lead, (lead + 1 + b % (eligible - 1)) % eligible


# ---- the population file ------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    number: str
    stratum: str
    weight: float


def format_line(number: str, stratum: str, weight: str) -> str:
    return f"{number}\t{stratum}\t{weight}\n"


def parse_lines(lines: Iterable[str | bytes]) -> Iterator[Member]:
    """Read a population file line by line (never the whole file at once)."""
    for raw in lines:
        line = raw.decode() if isinstance(raw, bytes) else raw
        line = line.rstrip("\n")
        if not line:
            continue
        number, stratum, weight = line.split("\t")
        yield Member(number, stratum, float(weight))


# ---- the reference implementation ---------------------------------------------------------


def draw_reference(
    seed: str, members: Iterable[Member], *, ratio_ppm: int, minimum: int
) -> dict[str, list[str]]:
    """The pledge numbers drawn per stratum, computed in Python from an in-memory population.

    For tests and small populations; :func:`replay_file` streams a file in two passes.
    """
    members = list(members)
    sizes = Counter(m.stratum for m in members)
    return _select(seed, members, sizes, ratio_ppm=ratio_ppm, minimum=minimum)


def _select(seed, members, sizes, *, ratio_ppm, minimum) -> dict[str, list[str]]:
    wanted = {s: sample_size(n, ratio_ppm=ratio_ppm, minimum=minimum) for s, n in sizes.items()}
    # Per stratum a max-heap (negated keys) of the k smallest (rank, number) seen so far.
    heaps: dict[str, list] = {s: [] for s in sizes}
    for member in members:
        k = wanted[member.stratum]
        if k == 0:
            continue
        key = (rank_from_hex(digest(seed, member.number), member.weight), member.number)
        heap = heaps[member.stratum]
        item = (-key[0], _Desc(key[1]))
        if len(heap) < k:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)
    result = {}
    for stratum, heap in heaps.items():
        keys = sorted((-rank, desc.value) for rank, desc in heap)
        result[stratum] = [number for _rank, number in keys]
    return result


class _Desc:
    """Orders strings in reverse, so the heap keeps the smallest numbers on equal ranks."""

    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value

    def __lt__(self, other):
        return self.value > other.value

    def __eq__(self, other):
        return self.value == other.value


def replay_file(path, seed: str, *, ratio_ppm: int, minimum: int):
    """Recompute a draw from its population file in two streaming passes.

    Returns ``(population_sha256, count, sizes, drawn)``. Memory grows with the sample, not
    with the population.
    """
    sha = hashlib.sha256()
    sizes: Counter = Counter()
    count = 0
    with open(path, "rb") as handle:
        for raw in handle:
            sha.update(raw)
            line = raw.rstrip(b"\n")
            if not line:
                continue
            count += 1
            sizes[line.split(b"\t", 2)[1].decode()] += 1
    with open(path, "rb") as handle:
        drawn = _select(seed, parse_lines(handle), sizes, ratio_ppm=ratio_ppm, minimum=minimum)
    return sha.hexdigest(), count, dict(sizes), drawn


def result_digest(numbers: Iterable[str]) -> str:
    """SHA-256 of the drawn numbers, sorted, one per line: the draw's result digest."""
    sha = hashlib.sha256()
    for number in sorted(numbers):
        sha.update(f"{number}\n".encode())
    return sha.hexdigest()


# ---- SQL ----------------------------------------------------------------------------------


def _sqlite_sha256hex(text):
    if text is None:
        return None
    return hashlib.sha256(str(text).encode()).hexdigest()


def _sqlite_rank(h, weight):
    if h is None or not weight:
        return None
    return rank_from_hex(h, float(weight))


def _sqlite_pick(h, offset):
    if h is None:
        return None
    return pick_from_hex(h, int(offset))


#: SQLite functions registered on every connection: name, number of arguments, function.
SQLITE_FUNCTIONS = (
    ("sha256hex", 1, _sqlite_sha256hex),
    ("cn_rank", 2, _sqlite_rank),
    ("cn_pick", 2, _sqlite_pick),
)


def register_sqlite_functions(connection) -> None:
    """Register the draw's functions on a ``sqlite3`` connection (deterministic)."""
    for name, arity, function in SQLITE_FUNCTIONS:
        connection.create_function(name, arity, function, deterministic=True)


@dataclass(frozen=True)
class Dialect:
    """The few expressions that differ between PostgreSQL and SQLite."""

    name: str

    def digest(self, seed_sql: str, number_sql: str) -> str:
        if self.name == "postgresql":
            return f"encode(sha256(convert_to({seed_sql} || {number_sql}, 'UTF8')), 'hex')"
        return f"sha256hex({seed_sql} || {number_sql})"

    def rank(self, h: str, weight: str) -> str:
        if self.name == "postgresql":
            bits = f"CAST(CAST(('x' || substr({h}, 1, 13)) AS bit(52)) AS bigint)"
            unit = (
                f"((CAST({bits} AS double precision) + CAST(0.5 AS double precision))"
                f" / CAST({TWO_52} AS double precision))"
            )
            return f"(-ln({unit}) / {weight})"
        return f"cn_rank({h}, {weight})"

    def pick(self, h: str, offset: int) -> str:
        if self.name == "postgresql":
            return f"CAST(CAST(('x' || substr({h}, {offset + 1}, 13)) AS bit(52)) AS bigint)"
        return f"cn_pick({h}, {offset})"

    @property
    def bytewise(self) -> str:
        return ' COLLATE "C"' if self.name == "postgresql" else ""

    @property
    def no_pullup(self) -> str:
        """Keep PostgreSQL from inlining a subquery (so the rank is computed once per row)."""
        return " OFFSET 0" if self.name == "postgresql" else ""


def dialect_for(vendor: str) -> Dialect:
    if vendor not in ("postgresql", "sqlite"):
        raise ValueError(f"the draw runs on PostgreSQL or SQLite, not {vendor}")
    return Dialect(vendor)


def ranked_sql(dialect: Dialect, population_sql: str) -> str:
    """Rank and number a population within its strata.

    ``population_sql`` selects at least ``number``, ``stratum`` and ``weight``. The seed is
    the first parameter of the returned statement, then ``population_sql``'s own. Returns
    the population's columns plus ``rank``, ``rn`` (1-based position in the stratum) and
    ``n`` (stratum size). The digest itself is not carried along, so the sort stays narrow.
    """
    rank = dialect.rank(dialect.digest("%s", "base.number"), "base.weight")
    return (
        "SELECT ranked.*,"
        " row_number() OVER (PARTITION BY ranked.stratum"
        f" ORDER BY ranked.rank, ranked.number{dialect.bytewise}) AS rn,"
        " count(*) OVER (PARTITION BY ranked.stratum) AS n"
        f" FROM (SELECT base.*, {rank} AS rank"
        f" FROM ({population_sql}) base{dialect.no_pullup}) ranked"
    )


def sample_sql(dialect: Dialect, population_sql: str) -> str:
    """Select the drawn members: ``rn <= k`` with k from the stratum size.

    Parameters, in order: the seed, then ``population_sql``'s own, then the minimum and the
    ratio in parts per million.
    """
    ceiling = f"((%s * s.n + {PPM - 1}) / {PPM})"
    return (
        f"SELECT s.* FROM ({ranked_sql(dialect, population_sql)}) s"
        f" WHERE s.rn <= CASE WHEN %s > {ceiling} THEN %s ELSE {ceiling} END"
    )


def sample_params(seed: str, population_params, *, minimum: int, ratio_ppm: int) -> list:
    """The parameters of :func:`sample_sql` in order."""
    check_seed(seed)
    return [seed, *population_params, minimum, ratio_ppm, minimum, ratio_ppm]


def check_seed(seed: str) -> str:
    if not SEED_PATTERN.match(seed or ""):
        raise ValueError("a draw seed is 64 lowercase hex digits")
    return seed
