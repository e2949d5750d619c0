"""Review before release: what an approval and the review queue cost as the log grows.

    python -m bench.review            # 300 vs 3,000 items under review
    python -m bench.review --quick    # a smoke run, seconds

Two homes on SQLite files with one review level: a small one and one ten times larger
(`--items`), every item drafted and submitted. In each, the same number of items are
approved (each approval is the last level, so it also works out the item's bundle, which
reads the log) and the queue is listed. The ratios large / small say how the cost grows
with the log; publishing the items into the review queue is timed as the baseline each
home is measured against (time per approval / time per publish).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from syndicate.domain.content import ItemContent
from syndicate.project import Project


def _contents(count: int) -> list[ItemContent]:
    return [
        ItemContent.model_validate(
            {
                "agency": "临溪县民政局",
                "index_no": f"11330100MB0000006R/2026-{n:05d}",
                "title": f"临溪县2026年城乡最低生活保障审批结果公告（第{n}批）",
                "body": "经审批，新增农村低保对象47户73人。" * 8,
                "area": "社会救助",
                "stage": "结果公开",
                "basis": "《社会救助暂行办法》第十一条",
                "formed_on": "2026-04-10",
            }
        )
        for n in range(count)
    ]


def _measure(items: int, approvals: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        project, _ = Project.init(Path(tmp) / "home", environ={}, keys=False)
        contents = _contents(items)
        with project.disclosures() as log:
            started = time.perf_counter()
            for start in range(0, items, 500):
                log.publish_many(contents[start : start + 500], actor="张三")
            publish = (time.perf_counter() - started) / items
            refs = [c.ref for c in contents[:approvals]]
            hashes = [log.get(ref).pending.content_hash for ref in refs]  # type: ignore[union-attr]
            started = time.perf_counter()
            for ref, digest in zip(refs, hashes, strict=True):
                log.approve(ref, level="审核", content_hash=digest, actor="李四")
            approve = (time.perf_counter() - started) / approvals
            started = time.perf_counter()
            queue = log.reviews()
            listing = time.perf_counter() - started
        if len(queue) != items - approvals:
            raise RuntimeError(f"queue has {len(queue)} entries")
    return {"publish": publish, "approve": approve, "list": listing}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--items", type=int, default=300, help="items in the small home"
    )
    parser.add_argument("--approvals", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args(argv)
    small_n = 30 if args.quick else args.items
    approvals = 5 if args.quick else args.approvals
    small = _measure(small_n, approvals)
    large = _measure(small_n * 10, approvals)
    for name, figures in (("small", small), ("large", large)):
        print(
            f"{name} ({small_n if name == 'small' else small_n * 10} items): "
            f"publish {figures['publish'] * 1000:.2f} ms/item, approve "
            f"{figures['approve'] * 1000:.1f} ms ({figures['approve'] / figures['publish']:.1f}"
            f"x a publish), review list {figures['list'] * 1000:.0f} ms"
        )
    ratios = {
        "approve_growth": large["approve"] / small["approve"],
        "list_growth": large["list"] / small["list"],
    }
    print(
        f"approve, log x10: {ratios['approve_growth']:.2f}x; "
        f"review list, log x10: {ratios['list_growth']:.2f}x"
    )
    return ratios


if __name__ == "__main__":
    main()
