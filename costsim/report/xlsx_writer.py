"""A streaming writer of Office Open XML workbooks (.xlsx), for reports with long time series.

Each sheet streams its rows straight into the zip as SpreadsheetML (ECMA-376 Part 1, 18.3 worksheets): numbers as
`<v>` values, text as inline strings (`t="inlineStr"`, never read as a formula), booleans `t="b"`, every cell with its
reference (`r="B7"`). One extra cell format makes bold headers. The workbook, its
relationships, the styles and the content types are written when the book closes. openpyxl reads the result back
with the same values and types as a workbook its write-only mode makes (floats here keep all 17 digits), written at
~1.5 microseconds per cell instead of ~13 (its per-cell objects and XML serializer; benchmarks/bench_report_xlsx.py):
a 54-day scenario of 1-minute buckets (2.8 million cells) takes seconds, not most of a minute."""

from __future__ import annotations

import math
import zipfile
from contextlib import contextmanager
from typing import Any, Iterator
from xml.sax.saxutils import escape

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_REL_SHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
_REL_STYLES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"

_INFINITIES = (math.inf, -math.inf)
#: cell formats (styles.xml cellXfs): 0 plain, 1 bold
PLAIN, BOLD = 0, 1
#: cells above which a sheet's XML (~40-100 bytes a cell) may pass the 2 GiB a plain zip entry holds
ZIP64_CELLS = 20_000_000

_STYLES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{_NS}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


def column_letter(index: int) -> str:
    """Spreadsheet column name of a 1-based column index (1 -> A, 27 -> AA)."""
    out = ""
    while index > 0:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


_LETTERS: list[str] = []


def _letters(n: int) -> list[str]:
    """Column names A.. of the first n columns (cached)."""
    while len(_LETTERS) < n:
        _LETTERS.append(column_letter(len(_LETTERS) + 1))
    return _LETTERS


def _cell(ref: str, v: Any, style: int) -> str:
    s = f' s="{style}"' if style else ""
    if v is None:
        return f'<c r="{ref}"{s}/>'
    if isinstance(v, bool):
        return f'<c r="{ref}" t="b"{s}><v>{int(v)}</v></c>'
    if isinstance(v, int):
        return f'<c r="{ref}"{s}><v>{v}</v></c>'
    if isinstance(v, float):
        return f'<c r="{ref}"{s}><v>{v!r}</v></c>' if math.isfinite(v) else f'<c r="{ref}"{s}/>'
    return f'<c r="{ref}" t="inlineStr"{s}><is><t xml:space="preserve">{escape(str(v))}</t></is></c>'


class Sheet:
    """Rows of one worksheet, written as they come (Book.sheet)."""

    def __init__(self, stream) -> None:
        self._out = stream
        self._rows = 0

    def row(self, values: list[Any], style: int = PLAIN) -> None:
        """Append a row: numbers, strings, booleans or None (an empty cell); `style` BOLD for a header."""
        self._rows += 1
        r = self._rows
        cells = "".join(_cell(f"{c}{r}", v, style) for c, v in zip(_letters(len(values)), values))
        self._out.write(f'<row r="{r}">{cells}</row>'.encode())

    def numeric_rows(self, rows) -> None:
        """Append rows of plain numbers / None (no text, no style): the fast path for long time series. NaN and
        infinities are written as empty cells (SpreadsheetML has no number for them), as in `row`."""
        out, r = self._out, self._rows
        parts = []
        for values in rows:
            r += 1
            cells = "".join(f'<c r="{c}{r}"/>' if v is None or v != v or v in _INFINITIES else f'<c r="{c}{r}"><v>{v!r}</v></c>'
                            for c, v in zip(_letters(len(values)), values))
            parts.append(f'<row r="{r}">{cells}</row>')
            if len(parts) >= 4096:
                out.write("".join(parts).encode())
                parts.clear()
        if parts:
            out.write("".join(parts).encode())
        self._rows = r


class Book:
    """A workbook streamed to `path` (a zip): `with book.sheet(name) as s: s.row([...])`, then `close()`."""

    def __init__(self, path) -> None:
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self._names: list[str] = []

    @contextmanager
    def sheet(self, name: str, widths: dict[int, float] | None = None, cells: int = 0, freeze_rows: int = 0) -> Iterator[Sheet]:
        """A new worksheet called `name` (already a valid, unique sheet name); `widths` {1-based column: width}; `cells`
        the number of cells it will hold where known (past ~20 million its XML may pass 2 GiB: a ZIP64 entry);
        `freeze_rows` rows kept in view while scrolling (the header)."""
        self._names.append(name)
        with self._zip.open(f"xl/worksheets/sheet{len(self._names)}.xml", "w", force_zip64=cells > ZIP64_CELLS) as f:
            cols = "".join(f'<col min="{c}" max="{c}" width="{w:g}" customWidth="1"/>' for c, w in sorted((widths or {}).items()))
            view = (f'<sheetViews><sheetView workbookViewId="0"><pane ySplit="{freeze_rows}" topLeftCell="A{freeze_rows + 1}" '
                    'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>') if freeze_rows > 0 else ""
            f.write((f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_NS}" xmlns:r="{_NS_R}">'
                     + view + (f"<cols>{cols}</cols>" if cols else "") + "<sheetData>").encode())
            yield Sheet(f)
            f.write(b"</sheetData></worksheet>")

    def close(self) -> None:
        n = len(self._names)
        sheets = "".join(f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
                         for i, name in enumerate(self._names, 1))
        z = self._zip
        z.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{_NS}" '
                                      f'xmlns:r="{_NS_R}"><sheets>{sheets}</sheets></workbook>')
        rels = "".join(f'<Relationship Id="rId{i}" Type="{_REL_SHEET}" Target="worksheets/sheet{i}.xml"/>' for i in range(1, n + 1))
        rels += f'<Relationship Id="rId{n + 1}" Type="{_REL_STYLES}" Target="styles.xml"/>'
        z.writestr("xl/_rels/workbook.xml.rels", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                                                 f'<Relationships xmlns="{_NS_PKG}">{rels}</Relationships>')
        z.writestr("xl/styles.xml", _STYLES)
        z.writestr("_rels/.rels", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{_NS_PKG}">'
                                  '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                                  'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        over = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT_SHEET}"/>' for i in range(1, n + 1))
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                   '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" '
                   'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                   '<Override PartName="/xl/styles.xml" '
                   'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
                   f"{over}</Types>")
        z.close()

    def abort(self) -> None:
        """Close the zip without the workbook parts (the caller deletes the file)."""
        self._zip.close()
