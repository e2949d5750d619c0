"""The personal-information detector (issue 16, part 1): generated data, never real people."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from syndicate.domain.pii import (
    PiiKind,
    find_pii,
    id_check_digit,
    luhn_valid,
    mask,
)

REGIONS = ["110101", "410102", "440305", "650102", "810000", "330106", "510104"]


def make_id(rng: random.Random, *, born: date | None = None) -> str:
    """A well-formed 18-digit 身份证号 for a person who does not exist."""
    born = born or date(1940, 1, 1) + timedelta(days=rng.randrange(30000))
    first17 = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + id_check_digit(first17)


def make_mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def make_card(rng: random.Random, prefix: str = "6222", length: int = 19) -> str:
    body = prefix + "".join(
        str(rng.randrange(10)) for _ in range(length - len(prefix) - 1)
    )
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


def _by_hand(first17: str) -> str:
    """The check character the long way: weights 2^(17-i) mod 11, value (12 - sum mod
    11) mod 11, 10 written X (GB 11643-1999), not with the module's tables."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    remainder = sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11
    value = (12 - remainder) % 11
    return "X" if value == 10 else str(value)


def kinds(text: str) -> list[PiiKind]:
    return [f.kind for f in find_pii(text)]


def test_the_check_digit_follows_gb_11643() -> None:
    # ISO 7064 MOD 11-2 by hand, for a generated number: digits 4 1 0 1 0 2 1 9 9 0 0 3 0
    # 7 0 0 6 times weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 sum to 189; 189 mod 11 =
    # 2, and the check characters for 0..10 are 1 0 X 9 8 7 6 5 4 3 2: "X".
    assert id_check_digit("41010219900307006") == "X"
    rng = random.Random(1)
    for _ in range(200):  # and the same as the standard's formula computed another way
        first17 = "".join(str(rng.randrange(10)) for _ in range(17))
        assert id_check_digit(first17) == _by_hand(first17)
    assert luhn_valid("4539578763621486")
    assert not luhn_valid("4539578763621487")


def test_generated_ids_are_found_and_masked_six_and_four() -> None:
    rng = random.Random(16)
    for _ in range(500):
        number = make_id(rng)
        text = f"申请人：张某，身份证号{number}，家庭人口3人。"
        [finding] = find_pii(text)
        assert finding.kind is PiiKind.ID_CARD
        assert finding.text == number
        assert finding.masked == number[:6] + "*" * 8 + number[-4:]
        assert text[finding.start : finding.end] == number


@pytest.mark.parametrize(
    "change",
    [
        lambda n: n[:17] + ("0" if n[17] != "0" else "1"),  # a wrong check digit
        lambda n: "99" + n[2:],  # no such province
        lambda n: n[:10] + "13" + n[12:],  # month 13
        lambda n: n[:12] + "32" + n[14:],  # day 32
    ],
    ids=["check-digit", "region", "month", "day"],
)
def test_an_implausible_id_is_not_an_id(change: object) -> None:
    rng = random.Random(7)
    number = make_id(rng, born=date(1988, 6, 15))
    broken = change(number)  # type: ignore[operator]
    assert PiiKind.ID_CARD not in kinds(f"编号{broken}。")


def test_ids_as_people_write_them() -> None:
    rng = random.Random(3)
    number = make_id(rng, born=date(1975, 3, 9))
    if not number.endswith("X"):
        first17 = number[:17]
        assert id_check_digit(first17) == number[-1]
    full_width = number.translate({ord(c): 0xFF10 + int(c) for c in "0123456789"})
    spaced = f"{number[:6]} {number[6:14]} {number[14:]}"
    hyphens = f"{number[:6]}-{number[6:14]}-{number[14:]}"
    for written in (full_width, spaced, hyphens, number.lower()):
        [finding] = find_pii(f"身份证：{written}")
        assert finding.kind is PiiKind.ID_CARD, written
        assert finding.text == written
        assert finding.masked.count("*") == 8


def test_the_old_fifteen_digit_form() -> None:
    [finding] = find_pii("旧证号 410102750309123 已换发")
    assert finding.kind is PiiKind.ID_CARD
    assert finding.masked == "410102*****9123"
    assert find_pii("旧证号 410102751309123") == []  # month 13


def test_mobile_numbers_with_their_usual_separators() -> None:
    for written, masked in [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138 **** 5678"),
        ("138-1234-5678", "138-****-5678"),
        ("+86 13812345678", "+86 138****5678"),
        ("+86-138-1234-5678", "+86-138-****-5678"),
        ("0086 13812345678", "0086 138****5678"),
    ]:
        [finding] = find_pii(f"联系电话：{written}。")
        assert (finding.kind, finding.text, finding.masked) == (
            PiiKind.MOBILE,
            written,
            masked,
        )
    assert find_pii("座机 0371-12345678") == []  # a landline is not a mobile
    assert find_pii("12812345678") == []  # no 12x mobile numbers


def test_bank_cards_pass_luhn_and_start_as_a_scheme() -> None:
    rng = random.Random(11)
    for prefix, length in [
        ("6222", 19),
        ("6217", 19),
        ("4", 16),
        ("52", 16),
        ("35", 16),
    ]:
        card = make_card(rng, prefix, length)
        [finding] = find_pii(f"开户银行卡号：{card}")
        assert finding.kind is PiiKind.BANK_CARD
        assert finding.masked == card[:6] + "*" * (len(card) - 10) + card[-4:]
    grouped = make_card(rng, "6228", 19)
    written = " ".join(grouped[i : i + 4] for i in range(0, 19, 4))
    [finding] = find_pii(f"卡号 {written}")
    assert finding.text == written
    # Luhn alone is not enough: an order number that happens to pass is not a card.
    order = make_card(rng, "88", 18)
    assert find_pii(f"订单号 {order}") == []
    not_luhn = grouped[:-1] + str((int(grouped[-1]) + 1) % 10)
    assert find_pii(f"卡号 {not_luhn}") == []


def test_look_alikes_are_not_personal_information() -> None:
    for text in [
        "统一社会信用代码 91410100MA44Q6RX1K",
        "统一社会信用代码 11410100005184023T",
        "发票号码 12345678901234567890",
        "索引号 11330100MB0000006R/2026-00019",
        "成文日期 2026-04-10，公示期 2026年4月2日至2026年4月8日",
        "文号 临政〔2026〕12号，金额 1234567.89 元",
        "邮编 450000，电话区号 0371",
    ]:
        assert find_pii(text) == [], text


def test_a_table_row_holds_several_numbers() -> None:
    rng = random.Random(5)
    number, phone = make_id(rng), make_mobile(rng)
    row = f"1 张某某 {number} {phone} 柳塘村"
    found = find_pii(row)
    assert [f.kind for f in found] == [PiiKind.ID_CARD, PiiKind.MOBILE]
    masked = mask(row)
    assert number not in masked
    assert phone not in masked
    assert masked.startswith("1 张某某 ")
    assert masked.endswith(" 柳塘村")


def test_places_are_lines_and_columns() -> None:
    rng = random.Random(9)
    phone = make_mobile(rng)
    text = f"第一行\n第二行 联系人 {phone}\n"
    [finding] = find_pii(text)
    assert (finding.line, finding.column) == (2, 9)
    assert finding.place == "第2行 第9列"


def test_recall_is_complete_on_a_generated_corpus() -> None:
    """Every planted value is found, in varied surroundings; nothing else is."""
    rng = random.Random(2026)
    fillers = ["，", "。", "：", " ", "（", "）", "、", "\n", "户主", "电话", "卡号"]
    planted: list[tuple[PiiKind, str]] = []
    parts: list[str] = []
    for _ in range(3000):
        kind = rng.choice(list(PiiKind))
        value = {
            PiiKind.ID_CARD: lambda: make_id(rng),
            PiiKind.MOBILE: lambda: make_mobile(rng),
            PiiKind.BANK_CARD: lambda: make_card(
                rng, *rng.choice([("6222", 19), ("6217", 19), ("4", 16)])
            ),
        }[kind]()
        planted.append((kind, value))
        parts += [rng.choice(fillers), "张某", rng.choice(fillers), value]
    text = "".join(parts) + "。"
    found = [(f.kind, f.text) for f in find_pii(text)]
    assert found == planted
    assert not any(ch.isdigit() and ch not in "0123456789" for ch in mask(text))
