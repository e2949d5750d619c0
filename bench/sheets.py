"""Notice-board sheets: render time and size with the shipped fonts cut per sheet.

    python -m bench.sheets            # the 12 example items; baseline on 2 of them
    python -m bench.sheets --quick    # a smoke run (3 items; baseline on 1)

- **syndicate**: `NoticeboardAdapter.render` for each example item as a posting: the
  fonts cut to the sheet's characters by HarfBuzz (uharfbuzz) before WeasyPrint lays out
  the page, and cut again by WeasyPrint to the glyphs used.
- **baseline**: the same sheet HTML given to WeasyPrint with the whole font files in
  `@font-face` (the obvious way to ship fonts with a package), which leaves WeasyPrint to
  subset 20 MB of fonts on every sheet — with fontTools on machines without the system's
  libharfbuzz-subset, as here.

Reports the median seconds per sheet of each and their ratio (baseline / syndicate: how
many times faster), and the largest sheet in bytes (target: every sheet at most 1 MB).
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from syndicate_adapters import noticeboard
from syndicate_adapters._fonts import bundled_sans, bundled_serif
from syndicate_adapters.noticeboard import NoticeboardAdapter, NoticeboardSettings

from syndicate.adapter import DeliveryJob
from syndicate.demo import example_items_dir
from syndicate.itemfiles import expand_paths, load_item_file
from syndicate.testing import sample_jobs

SETTINGS = NoticeboardSettings(
    path=Path("unused"), portal_url="https://www.linxi.gov.cn", contact="0571-1234567"
)


def example_jobs(count: int) -> list[DeliveryJob]:
    """Postings of the first `count` example items (the demo's)."""
    template = sample_jobs()[0]
    files = expand_paths([example_items_dir()])[:count]
    jobs = []
    for path in files:
        content = load_item_file(path).content
        item = replace(template.item, item_id=content.id, content=content)
        jobs.append(replace(template, item=item))
    return jobs


def baseline_render(job: DeliveryJob) -> bytes:
    """The sheet with the whole font files embedded for WeasyPrint to subset."""
    html_class, css_class, font_configuration, url_fetcher = noticeboard._weasyprint()
    fetcher = url_fetcher(allowed_protocols={"data"})
    config = font_configuration()
    rules = []
    for family, font in (
        (noticeboard.BODY_FAMILIES[1], bundled_serif()),
        (noticeboard.HEADING_FAMILIES[1], bundled_sans()),
    ):
        data = base64.b64encode(font.data).decode("ascii")
        rules.append(
            f'@font-face {{ font-family: "{family}"; '
            f'src: url("data:font/otf;base64,{data}"); }}'
        )
    faces = css_class(string="\n".join(rules), font_config=config, url_fetcher=fetcher)
    document = noticeboard.sheet_html(job, SETTINGS)
    with noticeboard._reproducible():
        rendered = html_class(string=document, url_fetcher=fetcher).render(
            stylesheets=[faces], font_config=config
        )
        pdf: bytes = rendered.write_pdf(pdf_identifier=False)
    return pdf


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args(argv)
    jobs = example_jobs(3 if args.quick else 12)
    baseline_count = 1 if args.quick else 2
    adapter = NoticeboardAdapter(SETTINGS)
    adapter.render(jobs[0])  # load the fonts and WeasyPrint once, outside the timing
    ours: list[float] = []
    sizes: list[int] = []
    for job in jobs:
        started = time.perf_counter()
        data = adapter.render(job).data
        ours.append(time.perf_counter() - started)
        sizes.append(len(data))
    theirs: list[float] = []
    for job in jobs[:baseline_count]:
        started = time.perf_counter()
        baseline_render(job)
        theirs.append(time.perf_counter() - started)
    mine = statistics.median(ours)
    base = statistics.median(theirs)
    print(f"sheets: {len(jobs)} example items as postings")
    print(f"  syndicate: {mine:.3f} s per sheet (median)")
    print(f"  whole fonts left to WeasyPrint: {base:.3f} s per sheet (median)")
    print(f"  baseline / syndicate: {base / mine:.1f}x")
    print(
        f"  sheet sizes: {min(sizes):,} to {max(sizes):,} bytes "
        f"(target: at most 1,000,000)"
    )
    return {
        "seconds_per_sheet": mine,
        "speedup": base / mine,
        "largest_bytes": float(max(sizes)),
    }


if __name__ == "__main__":
    main(sys.argv[1:])
