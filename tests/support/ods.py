"""OpenDocument spreadsheets (``.ods``) written with the standard library: a zip of a ``mimetype``, a
manifest and ``content.xml``, its cells given as XML text so that a test can write what LibreOffice
writes (repeated cells and rows, hidden sheets, formulas) and what no program would."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
# A repeat count as the XML writes it: a number, or any text (as no program would write it).
Repeats = int | str | None
_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2"'
)
# The style a hidden sheet's table takes, as LibreOffice writes it.
HIDDEN_STYLE = "ta_hidden"
_MANIFEST_NAMESPACE = 'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
# What a password-protected document's manifest says of each encrypted part (its details elided).
ENCRYPTION = (
    '<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="AAAA">'
    '<manifest:algorithm manifest:algorithm-name="Blowfish CFB" manifest:initialisation-vector="AAAA"/>'
    '<manifest:key-derivation manifest:key-derivation-name="PBKDF2" manifest:iteration-count="1024" '
    'manifest:salt="AAAA"/></manifest:encryption-data>'
)


def _repeated(kind: str, count: Repeats) -> str:
    return f' table:number-{kind}-repeated="{count}"' if count is not None else ""


def text_cell(text: str, *, repeated: Repeats = None) -> str:
    """A cell holding ``text`` (its lines as paragraphs)."""
    paragraphs = "".join(f"<text:p>{escape(line)}</text:p>" for line in text.split("\n"))
    return (
        f'<table:table-cell office:value-type="string"{_repeated("columns", repeated)}>{paragraphs}'
        "</table:table-cell>"
    )


def number_cell(value: str, *, repeated: Repeats = None) -> str:
    """A cell holding the number ``value`` as the XML writes it (``"12.5"``, ``"4.6E+14"``)."""
    return (
        f'<table:table-cell office:value-type="float" office:value={quoteattr(value)}'
        f"{_repeated('columns', repeated)}><text:p>{escape(value)}</text:p></table:table-cell>"
    )


def date_cell(value: str) -> str:
    """A cell holding the date (or date and time) ``value``, ISO 8601 as the XML writes it."""
    return (
        f'<table:table-cell office:value-type="date" office:date-value={quoteattr(value)}>'
        f"<text:p>{escape(value)}</text:p></table:table-cell>"
    )


def formula_cell(formula: str, value_type: str = "string", value: str = "") -> str:
    """A cell holding ``formula`` (``of:=""``) and the value saved for it."""
    saved = f" office:value={quoteattr(value)}" if value_type != "string" else ""
    return (
        f"<table:table-cell table:formula={quoteattr(formula)} office:value-type={quoteattr(value_type)}"
        f"{saved}><text:p>{escape(value)}</text:p></table:table-cell>"
    )


def empty_cell(*, repeated: Repeats = None) -> str:
    """An empty cell (LibreOffice writes a sheet's trailing empty cells as one, repeated)."""
    return f"<table:table-cell{_repeated('columns', repeated)}/>"


def row(cells: Sequence[str], *, repeated: Repeats = None) -> str:
    """A row of ``cells`` (XML text)."""
    return f"<table:table-row{_repeated('rows', repeated)}>{''.join(cells)}</table:table-row>"


def table(name: str, rows: Sequence[str], *, hidden: bool = False) -> str:
    """A sheet named ``name`` of ``rows`` (XML text)."""
    style = f' table:style-name="{HIDDEN_STYLE}"' if hidden else ""
    return f"<table:table table:name={quoteattr(name)}{style}>{''.join(rows)}</table:table>"


def content(tables: Sequence[str]) -> bytes:
    """A ``content.xml`` holding ``tables`` (XML text), with the style that hides a sheet."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_NAMESPACES} office:version="1.2">'
        f'<office:automatic-styles><style:style style:name="{HIDDEN_STYLE}" style:family="table">'
        '<style:table-properties table:display="false"/></style:style></office:automatic-styles>'
        f"<office:body><office:spreadsheet>{''.join(tables)}</office:spreadsheet></office:body>"
        "</office:document-content>"
    ).encode()


def manifest(*, encrypted: bool = False) -> bytes:
    """The package's ``META-INF/manifest.xml``, ``content.xml`` encrypted as a password does."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<manifest:manifest {_MANIFEST_NAMESPACE} manifest:version="1.2">'
        f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{MIMETYPE}"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
        f"{ENCRYPTION if encrypted else ''}</manifest:file-entry></manifest:manifest>"
    ).encode()


def package(parts: dict[str, bytes]) -> bytes:
    """A zip of ``parts`` by name, ``mimetype`` stored first (as the format asks), the others deflated."""
    written = io.BytesIO()
    with zipfile.ZipFile(written, "w") as archive:
        for name, data in parts.items():
            method = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return written.getvalue()


def ods(*tables: str) -> bytes:
    """An ``.ods`` workbook of ``tables`` (XML text)."""
    return package(
        {"mimetype": MIMETYPE.encode(), "META-INF/manifest.xml": manifest(), "content.xml": content(tables)}
    )
