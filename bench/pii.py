"""The personal-information detector: speed, and precision and recall on a generated corpus.

    python -m bench.pii            # 10,000 公示 rows, a 2 MB body, 10,000 strings
    python -m bench.pii --quick    # a smoke run

Speed: rows per second over a generated 公示 list (one row per household: name, ID,
mobile, bank card, village) and MB/s over a 2 MB body of ordinary text; and the cost of
the whole guard (`Disclosures.check`: text fields, attachment text, word lists) on one
typical item (a 2,000-character body), and on a 公示 list item (the same with a masked
1,000-row CSV attachment), against publishing it to a SQLite log (which runs the guard
too), measured in the same run (the guard's budget: under 10 %).

Quality: a corpus of strings, half with one planted 身份证号, mobile or bank card number
(generated, valid), half with look-alikes that must not match (统一社会信用代码, invoice and
order numbers, dates, document numbers, amounts, IDs with a wrong check digit). Recall is
over the planted values; every finding in a look-alike string is a false positive.
No real person's data is used: every value is generated.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from syndicate.attachments import PreparedAttachment
from syndicate.domain.content import ItemContent
from syndicate.domain.pii import find_pii, id_check_digit, luhn_valid
from syndicate.project import Project

REGIONS = ["110101", "410102", "440305", "650102", "330106", "510104", "410523"]
VILLAGES = ["柳塘村", "青石村", "河湾村", "东岗村"]


def _id(rng: random.Random) -> str:
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(30000))
    first17 = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + id_check_digit(first17)


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def _card(rng: random.Random) -> str:
    body, length = rng.choice([("6222", 19), ("6217", 19), ("6228", 19), ("4", 16)])
    body += "".join(str(rng.randrange(10)) for _ in range(length - 1 - len(body)))
    return next(body + c for c in "0123456789" if luhn_valid(body + c))


def _look_alike(rng: random.Random) -> str:
    digits = "".join(str(rng.randrange(10)) for _ in range(20))
    wrong = _id(rng)
    wrong = wrong[:17] + ("0" if wrong[17] != "0" else "1")
    return rng.choice(
        [
            f"统一社会信用代码 9141{digits[:4]}MA{digits[4:8]}Q6RX1K",
            f"发票号码 {digits}",
            f"订单号 88{digits[:16]}",
            f"成文日期 2026-0{rng.randrange(1, 10)}-1{rng.randrange(10)}",
            f"临政〔2026〕{rng.randrange(1, 200)}号",
            f"补助金额 {rng.randrange(100, 99999)}.{rng.randrange(100):02d} 元",
            f"证号 {wrong}",
            f"索引号 11330100MB0000006R/2026-{digits[:5]}",
        ]
    )


def _corpus(rng: random.Random, size: int) -> tuple[list[str], list[str | None]]:
    texts: list[str] = []
    planted: list[str | None] = []
    for n in range(size):
        if n % 2:
            texts.append(f"第{n}条：{_look_alike(rng)}。")
            planted.append(None)
        else:
            value = rng.choice([_id, _mobile, _card])(rng)
            texts.append(f"第{n}条：户主张某，{value}，{rng.choice(VILLAGES)}。")
            planted.append(value)
    return texts, planted


def _guard_and_publish_cost(
    body: str, repeat: int, listing: bytes | None = None
) -> tuple[float, float]:
    """Seconds per item for `Disclosures.check` (the whole guard: text, attachment text,
    word lists) and for `publish` (which runs the guard too), each on its own items."""
    with tempfile.TemporaryDirectory() as tmp:
        project, _ = Project.init(Path(tmp) / "h", environ={}, keys=False, review=False)
        with project.disclosures() as log:
            pairs = []
            for n in range(2 * repeat):
                prepared = (
                    [PreparedAttachment.from_bytes(listing, name=f"名单{n}.csv")]
                    if listing is not None
                    else []
                )
                content = ItemContent.model_validate(
                    {
                        "agency": "临溪县民政局",
                        "index_no": f"11330100MB0000006R/2026-{n:05d}",
                        "title": "临溪县2026年第一季度城乡最低生活保障审批结果公告",
                        "body": body,
                        "area": "社会救助",
                        "stage": "结果公开",
                        "basis": "《社会救助暂行办法》第十一条",
                        "formed_on": "2026-04-10",
                        "attachments": [p.meta.model_dump() for p in prepared],
                    }
                )
                pairs.append((content, prepared))
            started = time.perf_counter()
            for content, prepared in pairs[:repeat]:
                if not log.check(content, prepared).clean:
                    raise RuntimeError("the bench's item is not clean")
            check = (time.perf_counter() - started) / repeat
            started = time.perf_counter()
            for content, prepared in pairs[repeat:]:
                log.publish(content, actor="张三", attachments=prepared)
            return check, (time.perf_counter() - started) / repeat


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args(argv)
    rows_n, corpus_n, body_mb, repeat = (
        (500, 1000, 0.1, 5) if args.quick else (10_000, 10_000, 2.0, 50)
    )
    rng = random.Random(16)

    rows = "\n".join(
        f"{n},张某{n},{_id(rng)},{_mobile(rng)},{_card(rng)},{rng.choice(VILLAGES)}"
        for n in range(rows_n)
    )
    started = time.perf_counter()
    found = find_pii(rows)
    rows_s = rows_n / (time.perf_counter() - started)
    if len(found) != 3 * rows_n:
        raise RuntimeError(f"{len(found)} findings in {rows_n} rows, expected 3 each")

    paragraph = "经审批，新增农村低保对象47户73人，其中因病致贫23户，因残致贫11户。\n"
    body = paragraph * int(body_mb * 1_000_000 / len(paragraph.encode()))
    started = time.perf_counter()
    find_pii(body)
    mb_s = len(body.encode()) / 1_000_000 / (time.perf_counter() - started)

    item_body = (paragraph * 60)[:2000]
    check, publish = _guard_and_publish_cost(item_body, repeat)
    # A 公示 list item: the same body and a masked 1,000-row CSV attachment.
    masked = "\n".join(
        f"{n},张*{'甲乙丙丁戊己庚辛壬癸'[n % 10]},{_id(rng)[:6]}********{n % 10000:04d},"
        f"{rng.choice(VILLAGES)}"
        for n in range(1000)
    )
    list_check, list_publish = _guard_and_publish_cost(
        item_body, max(repeat // 5, 2), masked.encode()
    )

    texts, planted = _corpus(rng, corpus_n)
    hits = false_positives = 0
    for text, value in zip(texts, planted, strict=True):
        values = [f.text for f in find_pii(text)]
        if value is None:
            false_positives += len(values)
        elif values == [value]:
            hits += 1
    recall = hits / sum(1 for v in planted if v is not None)

    ratios = {
        "rows_per_s": rows_s,
        "mb_per_s": mb_s,
        "check_vs_publish": check / publish,
        "list_check_vs_publish": list_check / list_publish,
        "recall": recall,
        "false_positives": float(false_positives),
    }
    print(f"公示 rows: {rows_s:,.0f} rows/s ({rows_n:,} rows, 3 findings each)")
    print(f"plain body: {mb_s:.1f} MB/s ({body_mb} MB)")
    print(
        f"guard on an item: {check * 1000:.3f} ms; publishing it (guard included): "
        f"{publish * 1000:.2f} ms; guard / publish: {check / publish:.1%}"
    )
    print(
        f"guard on a 1,000-row CSV list item: {list_check * 1000:.2f} ms; publishing it: "
        f"{list_publish * 1000:.2f} ms; guard / publish: {list_check / list_publish:.1%}"
    )
    print(
        f"corpus of {corpus_n:,}: recall {recall:.2%} of planted values, "
        f"{false_positives} false positive(s) in {corpus_n // 2:,} look-alikes"
    )
    return ratios


if __name__ == "__main__":
    main()
