"""The text of a disclosure item's attachments (附件), for the personal-information guard.

`read_attachment_text` turns an attachment's bytes into blocks of rows of cell texts, the
way a person reading the file would see them; `replace_in_attachment` writes changed
cell texts back (for `items check --fix`). Neither checks anything: the guard does.

| Type            | Blocks                                    | Rows                          |
|-----------------|-------------------------------------------|-------------------------------|
| .csv .tsv       | one, label ""                             | records (table)               |
| .txt .md        | one, label ""                             | lines (running text)          |
| .html .htm      | one, label ""                             | text lines (running text)     |
| .xlsx           | one per worksheet, label = sheet title    | rows, cell index = column - 1 |
| .docx           | body paragraphs "", then each table 表格N | lines / table rows            |
| .pdf            | one per page, label 第N页                 | lines (running text)          |

Anything else (images, OFD, .doc, .xls, WPS files, archives) is `Unreadable`, with a reason
that says what to do. So is every file that cannot be parsed: bad bytes never raise.

Decisions worth knowing:

- Text files are UTF-8 (with or without BOM), UTF-16 with a BOM (Excel's "Unicode text"),
  or else GB18030 (a superset of GBK, which Chinese Excel and Notepad save by default).
- XLSX: hidden sheets, rows and columns are read too (they are published with the file).
  The sheet's declared dimensions are ignored, because some producers write wrong ones
  and openpyxl's read-only mode would otherwise stop early. Cached formula results are
  read, not formulas. Cell comments, headers and drawings are not read.
- DOCX: only the main document part (paragraphs, tables, text boxes); headers, footers,
  footnotes, comments and tracked deletions are not read. Tab stops are not text.
  The part is parsed with the standard library's expat, which reports byte offsets: a
  rewrite splices the changed text into the original bytes and leaves every other byte
  alone (ElementTree would rename namespace prefixes and drop unused declarations, which
  breaks `mc:Ignorable`, and Word then calls the file corrupt).
- Zip-based files (XLSX, DOCX) are refused before parsing when they unpack to more than
  200 MB, or when any XML part has a DTD (no entity expansion, ever).
- PDF: pypdf's text extraction. A page without text gives an empty block, so the guard
  can say which pages it could not check; a file with no text on any page is Unreadable.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import IO, Any
from xml.parsers import expat

__all__ = [
    "MAX_UNPACKED_BYTES",
    "AttachmentText",
    "TextBlock",
    "Unreadable",
    "blocks_or_reason",
    "read_attachment_text",
    "replace_in_attachment",
]

#: A zip-based attachment (XLSX, DOCX) that unpacks to more than this is refused.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class TextBlock:
    """One sheet, page, table or run of text of an attachment.

    `rows` are table rows of cell texts when `table` is True; for running text each line
    is a row of one cell. `label` names the block for a person: "" (the only block, or a
    DOCX body), a sheet title, "第2页", "表格1"."""

    label: str
    rows: tuple[tuple[str, ...], ...]
    table: bool


@dataclass(frozen=True)
class AttachmentText:
    """An attachment's text; (block, row, cell) indices address `replace_in_attachment`."""

    blocks: tuple[TextBlock, ...]


@dataclass(frozen=True)
class Unreadable:
    """Why an attachment's text cannot be read (or written), and what to do: one line."""

    reason: str


Edits = Mapping[tuple[int, int, int], str]


def read_attachment_text(
    data: bytes, *, name: str, media_type: str
) -> AttachmentText | Unreadable:
    """The text of the attachment `data`, or why it cannot be read.

    The type is decided by the extension of `name`, else by `media_type`. Never raises
    for bad bytes."""
    kind = _kind(name, media_type)
    if isinstance(kind, Unreadable):
        return kind
    return _READERS[kind](data)


def blocks_or_reason(
    data: bytes, *, name: str, media_type: str
) -> tuple[TextBlock, ...] | str:
    """What the guard reads of an attachment: its text blocks, or why it cannot be
    read (the guard's *unchecked*)."""
    text = read_attachment_text(data, name=name, media_type=media_type)
    return text.reason if isinstance(text, Unreadable) else text.blocks


def replace_in_attachment(
    data: bytes, *, name: str, media_type: str, edits: Edits
) -> bytes | Unreadable:
    """The attachment with the cells `edits` names set to new texts, or why not.

    A key is (block, row, cell) as in `read_attachment_text`'s output; the value is the
    cell's (or line's) new full text. CSV keeps its encoding, delimiter and line endings
    (only the edited records are rewritten); XLSX goes through openpyxl (an edited cell
    becomes a string cell); text files keep their line endings; a DOCX keeps every byte
    but those of the edited paragraphs' text, whose runs collapse into the formatting of
    their first text run. PDF, HTML and every type that cannot be read: `Unreadable`.

    Raises ValueError when a key names no cell of the file's text: that is a bug in the
    caller, not bad input."""
    kind = _kind(name, media_type)
    if isinstance(kind, Unreadable):
        return kind
    writer = _WRITERS.get(kind)
    if writer is None:
        return Unreadable(_CANNOT_REWRITE[kind])
    current = _READERS[kind](data)
    if isinstance(current, Unreadable):
        return current
    for key in edits:
        if not _addresses_cell(current, key):
            raise ValueError(f"edit {key} names no cell of the attachment's text")
    changed = {k: v for k, v in edits.items() if _cell(current, k) != v}
    if not changed:
        return data
    return writer(data, changed)


def _addresses_cell(text: AttachmentText, key: tuple[int, int, int]) -> bool:
    block, row, cell = key
    if not 0 <= block < len(text.blocks):
        return False
    rows = text.blocks[block].rows
    return 0 <= row < len(rows) and 0 <= cell < len(rows[row])


def _cell(text: AttachmentText, key: tuple[int, int, int]) -> str:
    block, row, cell = key
    return text.blocks[block].rows[row][cell]


# --------------------------------------------------------------------------- types

_EXTENSION_KINDS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "text",
    ".md": "text",
    ".markdown": "text",
    ".html": "html",
    ".htm": "html",
    ".xlsx": "xlsx",
    ".docx": "docx",
    ".pdf": "pdf",
}
_MEDIA_KINDS = {
    "text/csv": "csv",
    "text/tab-separated-values": "csv",
    "text/plain": "text",
    "text/markdown": "text",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/pdf": "pdf",
}
_CHECK_BY_EYE = "check it by eye"
_IMAGE = f"cannot read text in images: {_CHECK_BY_EYE}, or attach the document as PDF with a text layer"
_ARCHIVE = "cannot look inside archives: attach the files themselves"
_SLIDES = (
    f"cannot read presentations: export it as PDF with a text layer, or {_CHECK_BY_EYE}"
)
_EXTENSION_REFUSALS = {
    **dict.fromkeys(
        (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"), _IMAGE
    ),
    ".ofd": f"cannot read OFD files: export it as PDF with a text layer, or {_CHECK_BY_EYE}",
    ".doc": "cannot read .doc files; save it as .docx",
    ".wps": "cannot read .wps files; save it as .docx",
    ".rtf": "cannot read .rtf files; save it as .docx",
    ".xls": "cannot read .xls files; save it as .xlsx",
    ".et": "cannot read .et files; save it as .xlsx",
    **dict.fromkeys((".ppt", ".pptx", ".dps"), _SLIDES),
    **dict.fromkeys((".zip", ".rar", ".7z", ".tar", ".gz", ".tgz", ".bz2"), _ARCHIVE),
}
_MEDIA_REFUSALS = {
    "application/ofd": _EXTENSION_REFUSALS[".ofd"],
    "application/msword": _EXTENSION_REFUSALS[".doc"],
    "application/vnd.ms-excel": _EXTENSION_REFUSALS[".xls"],
    "application/vnd.ms-powerpoint": _SLIDES,
    "application/zip": _ARCHIVE,
    "application/x-zip-compressed": _ARCHIVE,
    "application/vnd.rar": _ARCHIVE,
    "application/x-rar-compressed": _ARCHIVE,
    "application/x-7z-compressed": _ARCHIVE,
}
_CANNOT_REWRITE = {
    "pdf": "cannot rewrite a PDF; mask the source document and export it again",
    "html": "cannot rewrite an HTML attachment; mask the source document and export it again",
}


def _kind(name: str, media_type: str) -> str | Unreadable:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    extension = base[base.rindex(".") :].lower() if "." in base else ""
    if extension in _EXTENSION_KINDS:
        return _EXTENSION_KINDS[extension]
    if extension in _EXTENSION_REFUSALS:
        return Unreadable(_EXTENSION_REFUSALS[extension])
    media = media_type.split(";", 1)[0].strip().lower()
    if media in _MEDIA_KINDS:
        return _MEDIA_KINDS[media]
    if media in _MEDIA_REFUSALS:
        return Unreadable(_MEDIA_REFUSALS[media])
    if media.startswith("image/"):
        return Unreadable(_IMAGE)
    what = f"{extension} files" if extension else f"files of type {media or 'unknown'}"
    return Unreadable(
        f"cannot read {what}: attach it as PDF, DOCX, XLSX, CSV or TXT, or {_CHECK_BY_EYE}"
    )


# --------------------------------------------------------------------------- text


@dataclass(frozen=True)
class _Decoded:
    text: str
    codec: str  # "utf-8", "utf-8-sig", "utf-16-le", "utf-16-be" or "gb18030"


def _decode(data: bytes) -> _Decoded | Unreadable:
    if data.startswith(codecs.BOM_UTF8):
        codec, body = "utf-8-sig", data
    elif data.startswith(codecs.BOM_UTF16_LE):
        codec, body = "utf-16-le", data[2:]
    elif data.startswith(codecs.BOM_UTF16_BE):
        codec, body = "utf-16-be", data[2:]
    else:
        codec, body = "utf-8", data
    try:
        text = body.decode(codec)
    except UnicodeDecodeError:
        if codec != "utf-8":
            return Unreadable(
                f"the text is not valid {codec.upper()}; save it as UTF-8"
            )
        try:
            codec, text = "gb18030", body.decode("gb18030")
        except UnicodeDecodeError:
            return Unreadable("the text is neither UTF-8 nor GB18030; save it as UTF-8")
    if "\x00" in text:
        return Unreadable(f"not a text file (it has NUL bytes): {_CHECK_BY_EYE}")
    return _Decoded(text, codec)


def _encode(text: str, codec: str) -> bytes:
    if codec == "utf-16-le":
        return codecs.BOM_UTF16_LE + text.encode(codec)
    if codec == "utf-16-be":
        return codecs.BOM_UTF16_BE + text.encode(codec)
    return text.encode(codec)


def _physical_lines(text: str) -> list[str]:
    """Lines with their endings (\\n, \\r\\n or \\r) kept."""
    return list(io.StringIO(text, newline=""))


def _strip_eol(line: str) -> str:
    return line.rstrip("\r\n")


def _line_ending(line: str) -> str:
    return line[len(_strip_eol(line)) :]


def _read_text(data: bytes) -> AttachmentText | Unreadable:
    decoded = _decode(data)
    if isinstance(decoded, Unreadable):
        return decoded
    rows = tuple((_strip_eol(line),) for line in _physical_lines(decoded.text))
    return AttachmentText((TextBlock("", rows, table=False),))


def _write_text(data: bytes, edits: Edits) -> bytes | Unreadable:
    decoded = _decode(data)
    if isinstance(decoded, Unreadable):
        return decoded
    lines = _physical_lines(decoded.text)
    for (_, row, _), new in edits.items():
        lines[row] = new + _line_ending(lines[row])
    return _encode("".join(lines), decoded.codec)


# --------------------------------------------------------------------------- CSV

_DELIMITERS = (",", "\t", ";")


def _sniff_delimiter(lines: list[str]) -> str:
    """The candidate that splits the most sample records into the same number (> 1) of
    fields; a comma when none does."""
    best, best_score = ",", (0.0, 0)
    for delimiter in _DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not counts:
            continue
        fields, seen = Counter(counts).most_common(1)[0]
        if fields < 2:
            continue
        score = (seen / len(counts), fields)
        if score > best_score:
            best, best_score = delimiter, score
    return best


@dataclass(frozen=True)
class _Csv:
    decoded: _Decoded
    delimiter: str
    lines: list[str]
    records: list[tuple[list[str], int, int]]  # fields, first line, end line


def _parse_csv(data: bytes) -> _Csv | Unreadable:
    decoded = _decode(data)
    if isinstance(decoded, Unreadable):
        return decoded
    lines = _physical_lines(decoded.text)
    delimiter = _sniff_delimiter(lines[:50])
    reader = csv.reader(lines, delimiter=delimiter)
    records: list[tuple[list[str], int, int]] = []
    try:
        for fields in reader:
            start = records[-1][2] if records else 0
            records.append((fields, start, reader.line_num))
    except csv.Error as exc:
        return Unreadable(
            f"cannot parse the CSV file ({exc}): check its quotes, or {_CHECK_BY_EYE}"
        )
    return _Csv(decoded, delimiter, lines, records)


def _read_csv(data: bytes) -> AttachmentText | Unreadable:
    parsed = _parse_csv(data)
    if isinstance(parsed, Unreadable):
        return parsed
    rows = tuple(tuple(fields) for fields, _, _ in parsed.records)
    return AttachmentText((TextBlock("", rows, table=True),))


def _write_csv(data: bytes, edits: Edits) -> bytes | Unreadable:
    parsed = _parse_csv(data)
    if isinstance(parsed, Unreadable):
        return parsed
    new_fields: dict[int, list[str]] = {}
    for (_, row, cell), new in edits.items():
        new_fields.setdefault(row, list(parsed.records[row][0]))[cell] = new
    lines = list(parsed.lines)
    # Back to front, so that earlier line numbers stay valid.
    for row in sorted(new_fields, reverse=True):
        _, start, end = parsed.records[row]
        ending = _line_ending(lines[end - 1])
        out = io.StringIO()
        csv.writer(
            out, delimiter=parsed.delimiter, lineterminator=ending or "\n"
        ).writerow(new_fields[row])
        record = out.getvalue()
        lines[start:end] = [record if ending else record[:-1]]
    return _encode("".join(lines), parsed.decoded.codec)


# --------------------------------------------------------------------------- HTML


# Elements that start a new line of text (td and th are cells: a tab after each).
_BLOCK_TAGS = """
address article aside blockquote body br caption dd div dl dt figcaption figure footer
form h1 h2 h3 h4 h5 h6 head header hr html li main nav ol option p pre script section
style table tbody textarea tfoot thead title tr ul
"""


class _HtmlText(HTMLParser):
    """Text of an HTML file as lines: tags dropped, block elements and table cells
    separated. Comments, script and style text and a few text-bearing attributes are
    kept too: they are in the published file even where a browser shows nothing."""

    _BREAKS = frozenset(_BLOCK_TAGS.split())
    _CELLS = frozenset({"td", "th"})
    _TEXT_ATTRIBUTES = frozenset(
        {"alt", "aria-label", "content", "href", "placeholder", "title", "value"}
    )
    _SPACES = re.compile(r"[ \t\r\n\f]+")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")
        if tag == "pre":
            self._pre += 1
        for attribute, value in attrs:
            if attribute in self._TEXT_ATTRIBUTES and value and value.strip():
                self.parts.append(f"\n{value}\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._CELLS:
            self.parts.append("\t")
        elif tag in self._BREAKS:
            self.parts.append("\n")
        if tag == "pre" and self._pre:
            self._pre -= 1

    def handle_data(self, data: str) -> None:
        self.parts.append(data if self._pre else self._SPACES.sub(" ", data))

    def handle_comment(self, data: str) -> None:
        self.parts.append(f"\n{data}\n")


def _read_html(data: bytes) -> AttachmentText | Unreadable:
    decoded = _decode(data)
    if isinstance(decoded, Unreadable):
        return decoded
    parser = _HtmlText()
    try:
        parser.feed(decoded.text)
        parser.close()
    except Exception as exc:  # html.parser is lenient; this is a last resort
        return Unreadable(
            f"cannot parse the HTML ({type(exc).__name__}): {_CHECK_BY_EYE}"
        )
    lines = (
        _strip_eol(line).strip() for line in _physical_lines("".join(parser.parts))
    )
    rows = tuple((line,) for line in lines if line)
    return AttachmentText((TextBlock("", rows, table=False),))


# --------------------------------------------------------------------------- zip parts

_OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")


class _Refused(Exception):
    """Raised inside an expat handler to stop parsing a part we will not read."""


class _PrologDone(Exception):
    """Raised inside an expat handler when the root element starts."""


def _open_zip(data: bytes, label: str, extension: str) -> zipfile.ZipFile | Unreadable:
    if data.startswith(_OLE_MAGIC):
        return Unreadable(
            f"not a valid {label} file: it is an old-format Office file or has a "
            f"password; save it as {extension} without a password"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        total = sum(info.file_size for info in archive.infolist())
    except Exception:  # zipfile raises several types for garbage
        return Unreadable(f"not a valid {label} file (bad zip)")
    if total > MAX_UNPACKED_BYTES:
        archive.close()
        return Unreadable(
            f"the {label} file unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MB "
            f"(a zip bomb?): {_CHECK_BY_EYE}"
        )
    return archive


def _has_dtd(stream: IO[bytes]) -> bool:
    """Whether an XML document declares a DTD; reads only up to its root element."""
    parser = expat.ParserCreate()

    def refuse(*_: object) -> None:
        raise _Refused

    def root(*_: object) -> None:
        raise _PrologDone

    parser.StartDoctypeDeclHandler = refuse
    parser.StartElementHandler = root
    try:
        while chunk := stream.read(65536):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except _Refused:
        return True
    except (_PrologDone, expat.ExpatError):
        return False  # a malformed part is the reader's to report
    return False


def _xml_parts_have_dtd(archive: zipfile.ZipFile) -> bool:
    for info in archive.infolist():
        if info.filename.lower().endswith((".xml", ".rels")):
            with archive.open(info) as stream:
                if _has_dtd(stream):
                    return True
    return False


_DTD_REFUSED = (
    "the {} file's XML declares a DTD, which is not read: open it and save it again"
)


# --------------------------------------------------------------------------- XLSX


def _cell_text(value: object) -> str:
    """A cell value as a person sees it in the spreadsheet."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Integral floats as integers, even past 15 digits where the float has lost
        # digits (an ID number typed as a number): the text is still what Excel shows.
        return str(int(value)) if value.is_integer() else f"{value:.15g}"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.replace(microsecond=0).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds")
    return str(value)


def _read_xlsx(data: bytes) -> AttachmentText | Unreadable:
    archive = _open_zip(data, "XLSX", ".xlsx")
    if isinstance(archive, Unreadable):
        return archive
    try:
        with archive:
            if _xml_parts_have_dtd(archive):
                return Unreadable(_DTD_REFUSED.format("XLSX"))
        sheets = tuple(_xlsx_blocks(data))
        return AttachmentText(sheets + _extra_parts(data, _XLSX_EXTRA))
    except Exception as exc:  # openpyxl and zipfile raise many types for bad files
        return Unreadable(
            f"cannot read the XLSX file ({type(exc).__name__}): open it in Excel or WPS "
            f"and save it again, or {_CHECK_BY_EYE}"
        )


def _xlsx_blocks(data: bytes) -> Iterator[TextBlock]:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # the declared size may be wrong: read every row
            rows: list[tuple[str, ...]] = []
            for values in sheet.iter_rows(values_only=True):
                cells = [_cell_text(value) for value in values]
                while cells and not cells[-1]:
                    cells.pop()
                rows.append(tuple(cells))
            while rows and not rows[-1]:
                rows.pop()
            yield TextBlock(str(sheet.title), tuple(rows), table=True)
    finally:
        workbook.close()


def _write_xlsx(data: bytes, edits: Edits) -> bytes | Unreadable:
    import openpyxl

    try:
        workbook: Any = openpyxl.load_workbook(io.BytesIO(data))
        sheets = workbook.worksheets
        if any(block >= len(sheets) for block, _, _ in edits):
            return Unreadable(_CANNOT_REWRITE_EXTRA)
        for (block, row, column), new in edits.items():
            cell = sheets[block].cell(row=row + 1, column=column + 1)
            cell.value = new
            cell.data_type = "s"  # a string, even one that starts with "="
        out = io.BytesIO()
        workbook.save(out)
    except Exception as exc:
        return Unreadable(
            f"cannot rewrite the XLSX file ({type(exc).__name__}): mask it in Excel or "
            "WPS instead"
        )
    return out.getvalue()


_CANNOT_REWRITE_EXTRA = (
    "cannot rewrite headers, footers, notes, comments or tracked changes: mask them in "
    "Word, WPS or Excel"
)


# --------------------------------------------------------------------------- DOCX

_W = frozenset(
    {
        "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
        "http://purl.oclc.org/ooxml/wordprocessingml/main",  # Strict Open XML
    }
)
_ATOM_TEXT = {"tab": "\t", "br": "\n", "cr": "\n"}
_NOT_XML_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _tag_end(xml: bytes, start: int) -> int:
    """The offset just past the tag that starts at `start` ('>' can be in quotes)."""
    quote = 0
    for offset in range(start + 1, len(xml)):
        byte = xml[offset]
        if quote:
            if byte == quote:
                quote = 0
        elif byte in b"\"'":
            quote = byte
        elif byte == 0x3E:  # '>'
            return offset + 1
    raise _Refused  # cannot happen for a document expat accepted


@dataclass
class _Atom:
    """A w:t, w:tab, w:br or w:cr in a run: a piece of a paragraph's text."""

    start: int
    end: int
    prefix: str
    text: str


@dataclass
class _Paragraph:
    start: int
    open_end: int  # just past the start tag
    close_start: int | None  # where the end tag starts; None for <w:p/>
    prefix: str
    atoms: list[_Atom] = field(default_factory=list)

    def text(self) -> str:
        return "".join(atom.text for atom in self.atoms)


_Cell = list[int]  # indices into _Document.paragraphs


@dataclass
class _Document:
    paragraphs: list[_Paragraph] = field(default_factory=list)
    body: list[int] = field(default_factory=list)  # paragraphs outside any table
    tables: list[list[list[_Cell]]] = field(default_factory=list)  # table, row, cell


@dataclass
class _Frame:
    """What an open element means for the elements inside it."""

    paragraph: _Paragraph | None
    table: list[list[_Cell]] | None  # the top-level table it is in
    cell: _Cell | None  # the top-level table's cell it is in
    run: bool = False
    atom: _Atom | None = None
    collect: bool = False  # a w:t: its character data is text
    empty: bool = False
    own_paragraph: bool = False


def _parse_document(xml: bytes) -> _Document:
    """The paragraphs and tables of a WordprocessingML main part, with byte offsets.

    Raises _Refused for a DTD and expat.ExpatError for a malformed part."""
    document = _Document()
    parser = expat.ParserCreate(namespace_separator="\x01")
    parser.namespace_prefixes = True
    parser.buffer_text = True
    stack = [_Frame(None, None, None)]

    def split(name: str) -> tuple[str, str, str]:
        parts = name.split("\x01")
        if len(parts) == 1:
            return "", parts[0], ""
        return parts[0], parts[1], parts[2] if len(parts) > 2 else ""

    def start(name: str, _attributes: object) -> None:
        uri, local, prefix = split(name)
        offset = parser.CurrentByteIndex
        open_end = _tag_end(xml, offset)
        empty = xml[open_end - 2] == 0x2F  # '/>'
        outer = stack[-1]
        frame = _Frame(outer.paragraph, outer.table, outer.cell, empty=empty)
        if uri in _W:
            if local == "tbl" and outer.table is None:
                frame.table = []
                document.tables.append(frame.table)
            elif local == "tr" and outer.table is not None and outer.cell is None:
                outer.table.append([])
            elif local == "tc" and outer.table and outer.cell is None:
                frame.cell = []
                outer.table[-1].append(frame.cell)
            elif local == "p":
                paragraph = _Paragraph(offset, open_end, None, prefix)
                document.paragraphs.append(paragraph)
                index = len(document.paragraphs) - 1
                (outer.cell if outer.cell is not None else document.body).append(index)
                frame.paragraph, frame.own_paragraph = paragraph, True
            elif local == "r":
                frame.run = True
            elif (
                outer.run
                and outer.paragraph is not None
                and (local == "t" or local in _ATOM_TEXT)
            ):
                end = open_end if empty else -1
                frame.atom = _Atom(offset, end, prefix, _ATOM_TEXT.get(local, ""))
                outer.paragraph.atoms.append(frame.atom)
                frame.collect = local == "t"
        stack.append(frame)

    def end(_name: str) -> None:
        frame = stack.pop()
        if frame.empty:
            return
        offset = parser.CurrentByteIndex
        if frame.atom is not None:
            frame.atom.end = _tag_end(xml, offset)
        if frame.own_paragraph and frame.paragraph is not None:
            frame.paragraph.close_start = offset

    def characters(text: str) -> None:
        frame = stack[-1]
        if frame.collect and frame.atom is not None:
            frame.atom.text += text

    def refuse(*_: object) -> None:
        raise _Refused

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.StartDoctypeDeclHandler = refuse
    parser.Parse(xml, True)
    return document


def _docx_blocks(document: _Document) -> tuple[TextBlock, ...]:
    texts = [p.text() for p in document.paragraphs]
    body = tuple((line,) for i in document.body for line in texts[i].split("\n"))
    blocks = [TextBlock("", body, table=False)]
    for number, table in enumerate(document.tables, 1):
        rows = tuple(
            tuple("\n".join(texts[i] for i in cell) for cell in row) for row in table
        )
        blocks.append(TextBlock(f"表格{number}", rows, table=True))
    return tuple(blocks)


_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")
_ATTRIBUTE = re.compile(rb"""(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _main_part(archive: zipfile.ZipFile) -> str:
    """The main document part's name: from the package relationships, usually
    word/document.xml."""
    try:
        rels = archive.read("_rels/.rels")
    except KeyError:
        return "word/document.xml"
    for match in _RELATIONSHIP.finditer(rels):
        attributes = {
            m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _ATTRIBUTE.finditer(match.group(0))
        }
        if attributes.get(b"Type", b"").endswith(b"/officeDocument"):
            target = attributes.get(b"Target", b"").decode("utf-8", "replace")
            return target.lstrip("/") or "word/document.xml"
    return "word/document.xml"


@dataclass(frozen=True)
class _Docx:
    part: str
    xml: bytes
    document: _Document


def _load_docx(data: bytes) -> _Docx | Unreadable:
    archive = _open_zip(data, "DOCX", ".docx")
    if isinstance(archive, Unreadable):
        return archive
    try:
        with archive:
            if _xml_parts_have_dtd(archive):
                return Unreadable(_DTD_REFUSED.format("DOCX"))
            part = _main_part(archive)
            xml = archive.read(part)
    except KeyError:
        return Unreadable(
            "not a valid DOCX file (no document part): save it as .docx again"
        )
    except Exception as exc:
        return Unreadable(f"not a valid DOCX file ({type(exc).__name__})")
    try:
        return _Docx(part, xml, _parse_document(xml))
    except _Refused:
        return Unreadable(_DTD_REFUSED.format("DOCX"))
    except expat.ExpatError as exc:
        return Unreadable(f"not a valid DOCX file (bad XML: {exc})")


def _read_docx(data: bytes) -> AttachmentText | Unreadable:
    loaded = _load_docx(data)
    if isinstance(loaded, Unreadable):
        return loaded
    blocks = _docx_blocks(loaded.document)
    deleted = _texts(loaded.xml, _DELETED_TEXT)
    extra = [TextBlock("修订删除的文字", deleted, table=False)] if deleted else []
    return AttachmentText(blocks + tuple(extra) + _extra_parts(data, _DOCX_EXTRA))


# Parts of a document the body reader does not see, read as plain text blocks after
# the body (labelled by what they are): where a number could hide unseen. They are
# read, not rewritten (`--fix` says so).
_DOCX_EXTRA = {
    re.compile(r"word/header\d*\.xml"): "页眉",
    re.compile(r"word/footer\d*\.xml"): "页脚",
    re.compile(r"word/footnotes\.xml"): "脚注",
    re.compile(r"word/endnotes\.xml"): "尾注",
    re.compile(r"word/comments\.xml"): "批注",
}
_XLSX_EXTRA = {
    re.compile(r"xl/comments\d*\.xml|xl/comments/[^/]+\.xml"): "批注",
    re.compile(r"xl/threadedComments/[^/]+\.xml"): "批注",
}
_PARAGRAPH_END = re.compile(rb"</(?:[\w.-]+:)?(?:p|si|comment|r)>")
_ELEMENT_TEXT = re.compile(rb"<(?:[\w.-]+:)?t(?:\s[^>]*)?>([^<]*)</(?:[\w.-]+:)?t>")
_DELETED_TEXT = re.compile(
    rb"<(?:[\w.-]+:)?delText(?:\s[^>]*)?>([^<]*)</(?:[\w.-]+:)?delText>"
)


def _texts(xml: bytes, element: re.Pattern[bytes]) -> tuple[tuple[str], ...]:
    """The text of `element`s in `xml`, one row per paragraph (or comment)."""
    rows = []
    for chunk in _PARAGRAPH_END.split(xml):
        pieces = [p.decode("utf-8", "replace") for p in element.findall(chunk)]
        line = unescape("".join(pieces))
        if line.strip():
            rows.append((line,))
    return tuple(rows)


def _extra_parts(
    data: bytes, parts: dict[re.Pattern[str], str]
) -> tuple[TextBlock, ...]:
    """Text blocks of the zip members `parts` names (already checked for DTDs and
    size by the caller's reader)."""
    blocks = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in sorted(archive.namelist()):
            label = next((v for k, v in parts.items() if k.fullmatch(name)), None)
            if label is None:
                continue
            rows = _texts(archive.read(name), _ELEMENT_TEXT)
            if rows:
                blocks.append(TextBlock(label, rows, table=False))
    return tuple(blocks)


_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']""")


def _write_docx(data: bytes, edits: Edits) -> bytes | Unreadable:
    loaded = _load_docx(data)
    if isinstance(loaded, Unreadable):
        return loaded
    xml, document = loaded.xml, loaded.document
    if any(block >= len(_docx_blocks(document)) for block, _, _ in edits):
        return Unreadable(_CANNOT_REWRITE_EXTRA)
    declared = _XML_ENCODING.match(xml.removeprefix(codecs.BOM_UTF8))
    if xml.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        declared and declared.group(1).lower() not in (b"utf-8", b"utf8")
    ):
        return Unreadable(
            "cannot rewrite a DOCX whose XML is not UTF-8: mask it in Word or WPS"
        )
    for new in edits.values():
        if _NOT_XML_CHARACTER.search(new):
            return Unreadable("the new text has characters a DOCX file cannot hold")
    wanted = _new_paragraph_texts(document, edits)
    splices = [s for i, text in wanted.items() for s in _splices(document, i, text)]
    out = bytearray(xml)
    for start, end, replacement in sorted(splices, reverse=True):
        out[start:end] = replacement
    new_xml = bytes(out)
    # Read the result back: the edited paragraphs must say what was asked, and
    # nothing else may have moved.
    try:
        check = _parse_document(new_xml)
    except (_Refused, expat.ExpatError):
        check = _Document()
    if len(check.paragraphs) != len(document.paragraphs) or any(
        check.paragraphs[i].text() != text for i, text in wanted.items()
    ):
        return Unreadable("could not rewrite the DOCX file: mask it in Word or WPS")
    return _replace_zip_member(data, loaded.part, new_xml)


def _normal_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _new_paragraph_texts(document: _Document, edits: Edits) -> dict[int, str]:
    texts = [p.text() for p in document.paragraphs]
    lines = {i: texts[i].split("\n") for i in document.body}
    body_rows = [(i, n) for i in document.body for n in range(len(lines[i]))]
    wanted: dict[int, str] = {}
    for (block, row, cell), new in sorted(edits.items()):
        new = _normal_newlines(new)
        if block == 0:
            paragraph, line = body_rows[row]
            lines[paragraph][line] = new
            wanted[paragraph] = "\n".join(lines[paragraph])
            continue
        paragraphs = document.tables[block - 1][row][cell]
        counts = [texts[i].count("\n") + 1 for i in paragraphs]
        new_lines = new.split("\n")
        if len(new_lines) == sum(counts):  # the same shape: each paragraph its lines
            for i, count in zip(paragraphs, counts, strict=True):
                wanted[i], new_lines = "\n".join(new_lines[:count]), new_lines[count:]
        elif paragraphs:  # else all in the first paragraph, the others emptied
            wanted.update(dict.fromkeys(paragraphs[1:], ""))
            wanted[paragraphs[0]] = new
    return {i: text for i, text in wanted.items() if text != texts[i]}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _run_content(text: str, prefix: str) -> bytes:
    """`text` as the children of a run: w:t pieces, w:tab and w:br."""
    p = f"{prefix}:" if prefix else ""
    pieces = []
    for piece in re.split(r"(\t|\n)", text):
        if piece == "\t":
            pieces.append(f"<{p}tab/>")
        elif piece == "\n":
            pieces.append(f"<{p}br/>")
        elif piece:
            pieces.append(f'<{p}t xml:space="preserve">{_escape(piece)}</{p}t>')
    return "".join(pieces).encode("utf-8")


def _splices(
    document: _Document, index: int, text: str
) -> list[tuple[int, int, bytes]]:
    """Byte replacements giving paragraph `index` the text `text`: the new content takes
    the place of its first text element, and the others are removed."""
    paragraph = document.paragraphs[index]
    if paragraph.atoms:
        first, *rest = paragraph.atoms
        return [
            (first.start, first.end, _run_content(text, first.prefix)),
            *((atom.start, atom.end, b"") for atom in rest),
        ]
    p = f"{paragraph.prefix}:" if paragraph.prefix else ""
    run = (
        f"<{p}r>".encode() + _run_content(text, paragraph.prefix) + f"</{p}r>".encode()
    )
    if paragraph.close_start is not None:
        return [(paragraph.close_start, paragraph.close_start, run)]
    # <w:p .../> becomes <w:p ...><w:r>...</w:r></w:p>
    return [
        (paragraph.open_end - 2, paragraph.open_end, b">" + run + f"</{p}p>".encode())
    ]


def _replace_zip_member(data: bytes, part: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w") as target,
    ):
        for info in source.infolist():
            target.writestr(
                info, content if info.filename == part else source.read(info)
            )
    return out.getvalue()


# --------------------------------------------------------------------------- PDF


def _read_pdf(data: bytes) -> AttachmentText | Unreadable:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return Unreadable(
                "the PDF is protected by a password: attach it without one, or "
                f"{_CHECK_BY_EYE}"
            )
        blocks = []
        for number, page in enumerate(reader.pages, 1):
            text = page.extract_text() or ""
            lines = tuple((_strip_eol(line),) for line in _physical_lines(text))
            if not any(line.strip() for (line,) in lines):
                lines = ()
            blocks.append(TextBlock(f"第{number}页", lines, table=False))
    except Exception as exc:  # pypdf raises many types for damaged files
        return Unreadable(
            f"cannot read the PDF ({type(exc).__name__}): export it again, or {_CHECK_BY_EYE}"
        )
    if not any(block.rows for block in blocks):
        return Unreadable(
            f"PDF has no text layer (a scan?): {_CHECK_BY_EYE}, or attach a version with text"
        )
    return AttachmentText(tuple(blocks))


# --------------------------------------------------------------------------- tables

_READERS: dict[str, Callable[[bytes], AttachmentText | Unreadable]] = {
    "csv": _read_csv,
    "text": _read_text,
    "html": _read_html,
    "xlsx": _read_xlsx,
    "docx": _read_docx,
    "pdf": _read_pdf,
}
_WRITERS: dict[str, Callable[[bytes, Edits], bytes | Unreadable]] = {
    "csv": _write_csv,
    "text": _write_text,
    "xlsx": _write_xlsx,
    "docx": _write_docx,
}
