"""Catalog lists (清单) as XLSX: the template, reading and checking an upload, the exports.

Reading an upload is built to refuse bad files cheaply and to stay within bounded memory
and time whatever the file claims:

- the first bytes must be a ZIP (an OLE/CFB header ``D0 CF 11 E0`` is an encrypted workbook
  or a legacy ``.xls``); the ZIP's parts are checked against size caps before anything is
  unpacked (a zip bomb stops here, and openpyxl's shared-string table, which it keeps in
  memory even in read-only mode, is capped);
- openpyxl reads in read-only mode (a stream over the sheet's XML) with ``data_only=False``,
  so a formula shows as a cell of data type ``f`` and is refused rather than trusted for a
  cached value;
- the sheet's ``<dimension>`` is used for an early refusal only, never trusted for where to
  stop: openpyxl would silently truncate at a dimension that lies, or pad up to one that
  exaggerates; reading stops at the row limit instead.

Nothing here touches the database: ``ListReader`` yields checked rows and collects errors;
the service writes them in one transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from . import conf

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP_MAGIC = b"PK\x03\x04"
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Column:
    key: str
    label: str  # the header written in the template (Chinese: the list is an official form)
    required: bool = False
    width: int = 18


# The list's columns, in template order. A header cell may hold the label or the key.
COLUMNS = (
    Column("code", "事项编码", required=True, width=14),
    Column("name", "事项名称", required=True, width=36),
    Column("certificate", "证明材料", required=True, width=30),
    Column("disposition", "类别", required=True, width=14),
    Column("legal_basis", "设定依据", width=40),
    Column("department", "主管部门编码", width=14),
    Column("issuer", "出具单位", width=20),
    Column("where_instead", "不出具时的办理途径", width=40),
    Column("valid_from", "生效日期", width=12),
    Column("valid_to", "失效日期", width=12),
)
COLUMN_KEYS = tuple(column.key for column in COLUMNS)
_HEADER_LOOKUP = {c.label: c.key for c in COLUMNS} | {c.key: c.key for c in COLUMNS}

# How each disposition is written in a list (catalog data, in Chinese), and what is accepted.
DISPOSITION_WORDS = {
    "must_issue": "应当出具",
    "must_not_issue": "不得出具",
    "may_issue": "核实后可出具",
    "pledge": "告知承诺",
}
_DISPOSITION_LOOKUP = {word: key for key, word in DISPOSITION_WORDS.items()} | {
    key: key for key in DISPOSITION_WORDS
}
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
MAX_LENGTH = {
    "code": 32,
    "name": 200,
    "certificate": 300,
    "legal_basis": 2000,
    "department": 32,
    "issuer": 200,
    "where_instead": 300,
}


class ListFileRefused(Exception):
    """The file as a whole cannot be read as a list; nothing of it is imported."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class RowError:
    row: int
    column: str
    value: str
    message: str

    def as_dict(self) -> dict:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }


def column_label(key: str) -> str:
    for column in COLUMNS:
        if column.key == key:
            return column.label
    return key


# ---- the file as a whole ---------------------------------------------------------------


def check_container(handle) -> None:
    """Refuse what is not an unencrypted XLSX within the size caps, before openpyxl sees it."""
    handle.seek(0)
    head = handle.read(8)
    handle.seek(0)
    if head.startswith(CFB_MAGIC):
        raise ListFileRefused(
            _(
                "The file is encrypted (password-protected) or an old .xls workbook. "
                "Remove the password and save it as .xlsx."
            )
        )
    if not head.startswith(ZIP_MAGIC):
        raise ListFileRefused(_("The file is not an XLSX workbook. Use the template."))
    try:
        with zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ListFileRefused(_("The file is not a readable XLSX workbook.")) from exc
    finally:
        handle.seek(0)
    names = {member.filename for member in members}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise ListFileRefused(_("The file is not an XLSX workbook. Use the template."))
    if any(member.flag_bits & 0x1 for member in members):
        raise ListFileRefused(_("The file is encrypted. Remove the password and save it again."))
    total = sum(member.file_size for member in members)
    if total > conf.list_max_uncompressed():
        raise ListFileRefused(_("The workbook is too large once unpacked."))
    shared = sum(m.file_size for m in members if m.filename.lower().endswith("sharedstrings.xml"))
    if shared > conf.list_max_shared_strings():
        raise ListFileRefused(_("The workbook holds too much text to be a list."))


_SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\b[^>]*>")
_RID = re.compile(rb"\br:id=\"([^\"]+)\"|\b\w+:id=\"([^\"]+)\"")
_REL_TAG = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")


def first_sheet_member(handle) -> str | None:
    """The ZIP member of the workbook's first sheet, read from the workbook's own index
    (``xl/workbook.xml`` and its relationships), without parsing any sheet."""
    try:
        with zipfile.ZipFile(handle) as archive:
            names = set(archive.namelist())
            workbook = archive.read("xl/workbook.xml")[:1_000_000]
            rels = archive.read("xl/_rels/workbook.xml.rels")[:1_000_000]
    except (KeyError, zipfile.BadZipFile, OSError, ValueError):
        return None
    finally:
        handle.seek(0)
    sheet = _SHEET_TAG.search(workbook)
    rid = _RID.search(sheet.group(0)) if sheet else None
    if rid is None:
        return None
    wanted = rid.group(1) or rid.group(2)
    for tag in _REL_TAG.findall(rels):
        ident = re.search(rb'\bId="([^"]+)"', tag)
        target = re.search(rb'\bTarget="([^"]+)"', tag)
        if ident and target and ident.group(1) == wanted:
            path = target.group(1).decode("utf-8", "replace")
            member = path.lstrip("/") if path.startswith("/") else f"xl/{path}"
            return member if member in names else None
    return None


_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?row[\s>/]")


def count_row_tags(handle, member: str, *, stop_after: int) -> int:
    """Count ``<row>`` elements in a sheet part by streaming it (C-speed; no XML parsing).

    Used for the progress bar's total and to refuse a huge sheet before parsing it. Stops
    counting past ``stop_after``.
    """
    count = 0
    tail = b""
    with zipfile.ZipFile(handle) as archive, archive.open(member) as source:
        while count <= stop_after:
            chunk = source.read(1 << 20)
            if not chunk:
                break
            data = tail + chunk
            # A match lying wholly in ``tail`` was counted with the previous chunk.
            count += sum(1 for match in _ROW_TAG.finditer(data) if match.end() > len(tail))
            tail = data[-64:]
    handle.seek(0)
    return count


# ---- reading a list --------------------------------------------------------------------


@dataclass
class ListReader:
    """Read and check a list, row by row.

    ``department_codes``: the city's departments. ``own_department``: set when a department
    hands in its own list (rows may only name it, and may leave it blank).
    Iterate ``rows()`` for the checked rows; ``errors`` and ``error_count`` fill as it goes.
    A refusal of the whole file raises ``ListFileRefused``.
    """

    handle: object
    department_codes: set[str]
    own_department: str | None = None
    max_rows: int = field(default_factory=conf.list_max_rows)
    max_errors: int = field(default_factory=conf.list_max_errors)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    rows_read: int = 0
    total_hint: int | None = None
    on_progress: Callable[[int, int | None], None] | None = None
    progress_every: int = 1000

    def error(self, row: int, column: str, value, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < self.max_errors:
            shown = "" if value is None else str(value)
            self.errors.append(
                RowError(row, column_label(column) if column else "", shown[:200], message)
            )

    def open(self):
        """Check the container, open the workbook, check the header; return the sheet."""
        from openpyxl import load_workbook

        check_container(self.handle)
        # Count the rows before openpyxl opens the sheet: without a <dimension>, openpyxl
        # itself reads the whole sheet once to size it.
        member = first_sheet_member(self.handle)
        if member:
            counted = count_row_tags(self.handle, member, stop_after=self.max_rows + 1)
            if counted - 1 > self.max_rows:
                raise ListFileRefused(self._too_many())
            self.total_hint = max(counted - 1, 0)
        try:
            workbook = load_workbook(self.handle, read_only=True, data_only=False)
        except Exception as exc:  # openpyxl raises many kinds on a malformed package
            raise ListFileRefused(_("The file is not a readable XLSX workbook.")) from exc
        self._workbook = workbook
        if not workbook.worksheets:
            raise ListFileRefused(_("The workbook has no sheet."))
        sheet = workbook.worksheets[0]
        claimed = sheet.max_row
        if claimed is not None and claimed - 1 > self.max_rows:
            raise ListFileRefused(self._too_many())
        if member is None and getattr(sheet, "_worksheet_path", None):
            # An unusual package layout: count through openpyxl's own path to the sheet.
            counted = count_row_tags(
                self.handle, sheet._worksheet_path, stop_after=self.max_rows + 1
            )
            if counted - 1 > self.max_rows:
                raise ListFileRefused(self._too_many())
            self.total_hint = max(counted - 1, 0)
        # Never trust the dimension for where to stop (see the module docstring).
        sheet.reset_dimensions()
        return sheet

    def close(self) -> None:
        workbook = getattr(self, "_workbook", None)
        if workbook is not None:
            workbook.close()

    def _too_many(self) -> str:
        return _("The list has more than %(limit)s rows; split it into smaller lists.") % {
            "limit": f"{self.max_rows:,}"
        }

    def _header(self, sheet) -> list[str | None]:
        """The key of each column; unknown or missing columns are errors of row 1."""
        first = next(sheet.iter_rows(min_row=1, max_row=1), ())
        keys: list[str | None] = []
        seen: set[str] = set()
        for index, cell in enumerate(first, start=1):
            value = cell.value
            if value is None or (isinstance(value, str) and not value.strip()):
                keys.append(None)
                continue
            text = str(value).strip()
            key = _HEADER_LOOKUP.get(text) or _HEADER_LOOKUP.get(text.lower())
            if key is None:
                self.error(1, "", text, _("Unknown column “%(name)s”.") % {"name": text})
            elif key in seen:
                self.error(1, key, text, _("The column appears twice."))
            else:
                seen.add(key)
            keys.append(key)
            if index > 64:
                break
        for column in COLUMNS:
            if column.required and column.key not in seen:
                self.error(
                    1,
                    column.key,
                    "",
                    _("The column “%(name)s” is missing.") % {"name": column.label},
                )
        if not any(keys):
            raise ListFileRefused(_("The first row must hold the column names of the template."))
        while keys and keys[-1] is None:
            keys.pop()
        return keys

    def rows(self) -> Iterator[dict]:
        """Yield each checked row as a dict of ``COLUMN_KEYS`` plus ``row_number``."""
        try:
            sheet = self.open()
            keys = self._header(sheet)
            if self.error_count:
                return
            width = len(keys)
            seen_codes: dict[str, int] = {}
            limit = self.max_rows + 1
            for row_number, cells in enumerate(sheet.iter_rows(min_row=2, max_col=width), 2):
                if row_number > limit:
                    raise ListFileRefused(self._too_many())
                if self.on_progress and row_number % self.progress_every == 0:
                    self.on_progress(row_number - 1, self.total_hint)
                values = {}
                formula = False
                for key, cell in zip(keys, cells, strict=False):
                    if cell.data_type == "f":
                        formula = True
                        self.error(
                            row_number,
                            key or "",
                            cell.value,
                            _("Formulas are not accepted; paste the values only."),
                        )
                    elif key is not None:
                        values[key] = cell.value
                if not formula and all(_blank(v) for v in values.values()):
                    continue
                self.rows_read += 1
                if formula:
                    continue  # the formula is the row's error; its values are not trusted
                checked = self._check(row_number, values, seen_codes)
                if checked is not None:
                    yield checked
            if self.rows_read == 0 and not self.error_count:
                raise ListFileRefused(_("The list has no rows."))
        finally:
            self.close()

    def _check(self, row: int, values: dict, seen_codes: dict[str, int]) -> dict | None:
        errors_before = self.error_count
        out: dict = {"row_number": row}
        for key in ("code", "name", "certificate", "legal_basis", "issuer", "where_instead"):
            out[key] = self._text(row, key, values.get(key))
        code = out["code"]
        if not code:
            self.error(row, "code", "", _("The code is required."))
        elif not _CODE.match(code):
            self.error(
                row, "code", code, _("A code uses letters, digits, “-”, “_” or “.” (32 at most).")
            )
        elif code in seen_codes:
            self.error(
                row,
                "code",
                code,
                _("Duplicate code: already used in row %(row)s.") % {"row": seen_codes[code]},
            )
        else:
            seen_codes[code] = row
        for key in ("name", "certificate"):
            if not out[key]:
                self.error(row, key, "", _("This column is required."))
        raw = values.get("disposition")
        word = self._text(row, "disposition", raw)
        disposition = _DISPOSITION_LOOKUP.get(word)
        if disposition is None:
            self.error(
                row,
                "disposition",
                raw,
                _("Unknown category; use one of: %(words)s.")
                % {"words": "、".join(DISPOSITION_WORDS.values())},
            )
        elif disposition == "must_issue" and not out["legal_basis"]:
            self.error(
                row,
                "legal_basis",
                "",
                _("An item that must be issued needs its legal basis."),
            )
        out["disposition"] = disposition or ""
        department = self._text(row, "department", values.get("department"))
        if not department and self.own_department:
            department = self.own_department
        if not department:
            self.error(row, "department", "", _("The department code is required."))
        elif department not in self.department_codes:
            self.error(
                row,
                "department",
                department,
                _("Unknown department code “%(code)s”.") % {"code": department},
            )
        elif self.own_department and department != self.own_department:
            self.error(
                row,
                "department",
                department,
                _("A department's list holds only its own items (%(code)s).")
                % {"code": self.own_department},
            )
        out["department"] = department
        out["valid_from"] = self._date(row, "valid_from", values.get("valid_from"))
        out["valid_to"] = self._date(row, "valid_to", values.get("valid_to"))
        if out["valid_from"] and out["valid_to"] and out["valid_to"] < out["valid_from"]:
            self.error(
                row,
                "valid_to",
                out["valid_to"].isoformat(),
                _("The end date is before the start date."),
            )
        return out if self.error_count == errors_before else None

    def _text(self, row: int, key: str, value) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            text = "TRUE" if value else "FALSE"
        elif isinstance(value, float) and value.is_integer():
            text = str(int(value))
        elif isinstance(value, dt.datetime | dt.date):
            text = value.isoformat()
        else:
            text = str(value)
        text = text.strip()
        limit = MAX_LENGTH.get(key)
        if limit and len(text) > limit:
            self.error(
                row, key, text[:50], _("Too long: at most %(limit)s characters.") % {"limit": limit}
            )
        return text

    def _date(self, row: int, key: str, value) -> dt.date | None:
        if _blank(value):
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        match = _DATE.match(text)
        if match:
            try:
                return dt.date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                pass
        self.error(row, key, text, _("Not a valid date; write it as 2026-01-31."))
        return None


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# ---- writing ---------------------------------------------------------------------------


def _safe(sheet, value):
    """A cell that holds ``value`` as itself: text starting with ``=`` stays text, never a
    formula (an export must not turn a submitted string into something Excel executes)."""
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def _date_cell(sheet, value):
    from openpyxl.cell import WriteOnlyCell

    if value is None:
        return None
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = "yyyy-mm-dd"
    return cell


def _header_cells(sheet, labels: Iterable[str]):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    cells = []
    for label in labels:
        cell = WriteOnlyCell(sheet, value=str(label))
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="F5F2EE")
        cells.append(cell)
    return cells


def _new_workbook():
    from openpyxl import Workbook

    return Workbook(write_only=True)


def _save(workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _list_sheet(workbook, title: str):
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(title)
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    sheet.append(_header_cells(sheet, (column.label for column in COLUMNS)))
    return sheet


def template_bytes(*, unit_name: str = "", department_codes: Iterable[tuple[str, str]] = ()):
    """The empty list for a town, street office or department to fill in."""
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = _new_workbook()
    sheet = _list_sheet(workbook, "清单")
    validation = DataValidation(
        type="list", formula1='"' + ",".join(DISPOSITION_WORDS.values()) + '"', allow_blank=True
    )
    validation.add("D2:D5000")
    sheet.data_validations.append(validation)
    notes = workbook.create_sheet("填写说明")
    notes.column_dimensions["A"].width = 22
    notes.column_dimensions["B"].width = 80
    lines = [
        ("清单", unit_name or ""),
        ("说明", "第一行为列名，请勿修改；从第二行起每行一个证明事项。只读取第一个工作表。"),
        ("事项编码", "必填，字母、数字、“-”“_”“.”，最长32位，表内不得重复。"),
        ("事项名称", "必填。"),
        ("证明材料", "必填：该事项要求的证明。"),
        ("类别", "必填：" + "、".join(DISPOSITION_WORDS.values()) + "。"),
        ("设定依据", "类别为“应当出具”的必须填写法律法规依据。"),
        ("主管部门编码", "必填（部门报送自己的清单时可留空）。"),
        ("出具单位", "出具证明的委员会或单位（可选）。"),
        ("不出具时的办理途径", "类别为“不得出具”的，写明群众改到何处办理。"),
        ("生效日期/失效日期", "日期格式 2026-01-31，可留空。"),
        ("注意", "请只填写数值，不要使用公式；不要加密或设置打开密码。"),
    ]
    for key, text in lines:
        notes.append([key, text])
    codes = list(department_codes)
    if codes:
        notes.append([])
        notes.append(_header_cells(notes, ("主管部门编码", "部门")))
        for code, name in codes:
            notes.append([code, name])
    return _save(workbook)


def catalog_bytes(rows: Iterable[dict], *, title: str = "清单") -> bytes:
    """The city's catalog in the list format: what the bureau exports can be imported back."""
    workbook = _new_workbook()
    sheet = _list_sheet(workbook, title)
    for row in rows:
        sheet.append(
            [
                _safe(sheet, row["code"]),
                _safe(sheet, row["name"]),
                _safe(sheet, row["certificate"]),
                DISPOSITION_WORDS.get(row["disposition"], row["disposition"]),
                _safe(sheet, row.get("legal_basis") or None),
                row.get("department") or None,
                _safe(sheet, row.get("issuer") or None),
                _safe(sheet, row.get("where_instead") or None),
                _date_cell(sheet, row.get("valid_from")),
                _date_cell(sheet, row.get("valid_to")),
            ]
        )
    return _save(workbook)


ERROR_HEADERS = ("行号", "列", "内容", "问题")


def errors_bytes(errors: Iterable[dict]) -> bytes:
    workbook = _new_workbook()
    sheet = workbook.create_sheet("错误报告")
    for letter, width in zip("ABCD", (8, 20, 30, 60), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.append(_header_cells(sheet, ERROR_HEADERS))
    for error in errors:
        sheet.append(
            [
                error["row"],
                _safe(sheet, error["column"]),
                _safe(sheet, error["value"]),
                _safe(sheet, error["message"]),
            ]
        )
    return _save(workbook)


def _csv_safe(value) -> str:
    """Neutralise spreadsheet formula injection in CSV (a leading = + - @ or tab)."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def errors_csv(errors: Iterable[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ERROR_HEADERS)
    for error in errors:
        writer.writerow(
            [
                error["row"],
                _csv_safe(error["column"]),
                _csv_safe(error["value"]),
                _csv_safe(error["message"]),
            ]
        )
    # With a BOM, Excel opens the Chinese text as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def report_bytes(sheets: list[tuple[str, list[str], list[list]]]) -> bytes:
    """A workbook of simple tables: ``(title, headers, rows)`` per sheet."""
    workbook = _new_workbook()
    for title, headers, rows in sheets:
        sheet = workbook.create_sheet(title[:31])
        sheet.column_dimensions["A"].width = 28
        sheet.append(_header_cells(sheet, headers))
        for row in rows:
            sheet.append([_safe(sheet, value) for value in row])
    return _save(workbook)
