"""CI: the demo's notice-board sheets carry real Chinese text, in the shipped fonts.

Usage: python .ci/check_sheets.py FOLDER [MAX_BYTES]

Run by `.ci/run` on the sheets of a demo run where fontconfig sees no CJK font (only
DejaVu, as on a stock machine): every PDF must embed subset fonts of its own, the title
(from the PDF's metadata) must come back out of the text layer, and no sheet may exceed
MAX_BYTES (1 MB). Prints one line per sheet; exits 1 on the first problem.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import Any

import pypdf


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def check(path: Path, limit: int) -> str:
    data = path.read_bytes()
    if len(data) > limit:
        raise SystemExit(f"{path.name}: {len(data)} bytes, more than {limit}")
    reader = pypdf.PdfReader(io.BytesIO(data))
    fonts: set[str] = set()
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for ref in resources["/Font"].values():
            font: Any = ref.get_object()
            [descendant] = font["/DescendantFonts"]
            descriptor = descendant.get_object()["/FontDescriptor"].get_object()
            if "/FontFile3" not in descriptor and "/FontFile2" not in descriptor:
                raise SystemExit(f"{path.name}: font {font['/BaseFont']} not embedded")
            fonts.add(str(font["/BaseFont"]).partition("+")[2])
    if not fonts or not all(f.startswith("Syndicate-Noto-") for f in fonts):
        raise SystemExit(f"{path.name}: unexpected fonts {sorted(fonts)}")
    info: Any = reader.metadata
    title = str(info["/Title"]).split("：", 1)[-1]  # "更正：…" / "撤除通知：…"
    text = flat("".join(page.extract_text() for page in reader.pages))
    if not re.search(r"[\u4e00-\u9fff]", title) or flat(title) not in text:
        raise SystemExit(f"{path.name}: the title {title!r} is not in the text layer")
    return f"{path.name}: {len(data):,} bytes, {len(reader.pages)} page(s), {title}"


def main() -> None:
    folder = Path(sys.argv[1])
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    sheets = sorted(folder.glob("*.pdf"))
    if not sheets:
        raise SystemExit(f"no sheets in {folder}")
    for sheet in sheets:
        sys.stdout.write(f"  {check(sheet, limit)}\n")
    sys.stdout.write(
        f"{len(sheets)} sheets: Chinese text in embedded fonts, each <= {limit:,} bytes\n"
    )


if __name__ == "__main__":
    main()
