"""Report files: a table written as CSV (UTF-8 with a BOM, so that Excel reads Chinese) or
XLSX, streamed chunk by chunk, text never taken for a formula. Which reports there are,
their columns and who may read them is `resolvers.exports`."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import io
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import IO, Any, Final

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

FORMATS: Final = ("csv", "xlsx")


Rows = Callable[[], AsyncIterator[list[list[Any]]]]


@dataclass(frozen=True)
class Table:
    title: str  # the sheet's (and the file's) name
    headers: list[str]
    rows: Rows  # chunks of rows, read when the response streams
    summary: list[tuple[str, Any]] = dataclasses.field(default_factory=list)  # XLSX: a second sheet


# --- writing the files -----------------------------------------------------------------------


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _safe(value: Any) -> Any:
    """A text cell that a spreadsheet would take for a formula gets a leading quote (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


async def csv_chunks(t: Table) -> AsyncIterator[bytes]:
    """UTF-8 with a BOM, one chunk per chunk of rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(t.headers)
    yield ("\ufeff" + out.getvalue()).encode("utf-8")
    async for chunk in t.rows():
        out.seek(0)
        out.truncate()
        writer.writerows([[_safe(_text(v)) for v in row] for row in chunk])
        yield out.getvalue().encode("utf-8")


def _cells(sheet: Any, row: list[Any]) -> list[Any]:
    cells = []
    for value in row:
        cell = WriteOnlyCell(sheet, value=_text(value))
        if isinstance(cell.value, str):
            cell.data_type = "s"  # text, never a formula
        cells.append(cell)
    return cells


async def xlsx_file(t: Table) -> IO[bytes]:
    """The workbook in a temporary file (openpyxl's write-only mode keeps the rows out of
    memory); the caller streams it and closes it."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(t.title[:31])
    sheet.append(_cells(sheet, t.headers))
    async for chunk in t.rows():
        for row in chunk:
            sheet.append(_cells(sheet, row))
    if t.summary:
        totals = book.create_sheet("汇总")
        totals.append(_cells(totals, ["项目", "数值"]))
        for name, value in t.summary:
            totals.append(_cells(totals, [name, value]))
    out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the streaming response, which closes it
    try:
        book.save(out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


async def file_chunks(out: IO[bytes], size: int = 64 * 1024) -> AsyncIterator[bytes]:
    with contextlib.closing(out):
        while chunk := out.read(size):
            yield chunk
