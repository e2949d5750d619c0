"""错敏词 word lists and the matcher (syndicate.domain.wording): generated text only."""

from __future__ import annotations

import random
import re
import tomllib
import unicodedata
from importlib import resources

import pytest

from syndicate.domain.pii import mask
from syndicate.domain.wording import (
    Severity,
    WordFinding,
    WordList,
    WordMatcher,
    WordRule,
    builtin_word_list,
    parse_word_list,
    replace_words,
)
from syndicate.errors import InputError
from tests.test_pii import make_mobile


def rule(
    term: str, replacement: str = "", severity: Severity = Severity.SERIOUS
) -> WordRule:
    return WordRule(term, replacement, severity, source="test.txt")


def matcher(*terms: str | WordRule, name: str = "test.txt") -> WordMatcher:
    rules = tuple(t if isinstance(t, WordRule) else rule(t) for t in terms)
    return WordMatcher([WordList(name, rules)])


def problems(text: str, name: str = "ops.txt") -> list[str]:
    with pytest.raises(InputError) as caught:
        parse_word_list(text, name=name)
    assert all(p.field == name for p in caught.value.problems)
    return [p.message for p in caught.value.problems]


# -- operator lists ------------------------------------------------------------------


def test_parse_a_good_list() -> None:
    text = (
        "\ufeff# 本单位错敏词\r\n"
        "词语|建议|级别|说明\r\n"
        "\r\n"
        "台湾政府|台湾当局|严重|不使用“台湾政府”\r\n"
        "某某县人民政布\t某某县人民政府\t提示\r\n"
        "  # an indented comment\r\n"
        "隆重召开||Caution\r\n"
        "张三丰\r\n"
        "李四光|李四|serious||\r\n"
        "王五|王六|提示|\r\n"
    )
    words = parse_word_list(text, name="ops.txt")
    assert words.name == "ops.txt"
    assert [(r.term, r.replacement, r.severity, r.note) for r in words.rules] == [
        ("台湾政府", "台湾当局", Severity.SERIOUS, "不使用“台湾政府”"),
        ("某某县人民政布", "某某县人民政府", Severity.CAUTION, ""),
        ("隆重召开", "", Severity.CAUTION, ""),
        ("张三丰", "", Severity.SERIOUS, ""),
        ("李四光", "李四", Severity.SERIOUS, ""),
        ("王五", "王六", Severity.CAUTION, ""),
    ]
    assert {r.source for r in words.rules} == {"ops.txt"}


def test_english_header_is_skipped_and_an_empty_list_is_empty() -> None:
    words = parse_word_list("Term\treplacement\n旧称\t新称\n", name="a.tsv")
    assert [r.term for r in words.rules] == ["旧称"]
    assert parse_word_list("# nothing yet\n\n", name="a.tsv").rules == ()


def test_a_header_only_counts_on_the_first_line() -> None:
    words = parse_word_list("旧称|新称\nterm|术语\n", name="a.txt")
    assert [r.term for r in words.rules] == ["旧称", "term"]


def test_terms_are_nfc_normalised() -> None:
    decomposed = "Cafe\u0301"
    assert not unicodedata.is_normalized("NFC", decomposed)
    words = parse_word_list(f"{decomposed}|咖啡馆\n", name="a.txt")
    assert words.rules[0].term == "Caf\u00e9"
    assert matcher(words.rules[0]).find("a Caf\u00e9 b")[0].start == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "台湾政府|台湾当局\n旧称|新称|高\n",
            "line 2: severity must be 严重 or 提示, not '高'",
        ),
        ("# c\n\n|台湾当局\n", "line 3: the term is empty"),
        (
            "旧称\n" + "字" * 51 + "|新\n",
            "line 2: the term is longer than 50 characters (51)",
        ),
        (
            "旧\u200b称|新称\n",
            "line 1: the term contains a line break or control character (U+200B)",
        ),
        (
            "旧\x0b称\n",
            "line 1: the term contains a line break or control character (U+000B)",
        ),
        (
            "旧称|新\u2028称\n",
            "line 1: the replacement contains a control character (U+2028)",
        ),
        ("旧称|新称\n\n旧称|别称\n", "line 3: the term '旧称' is already on line 1"),
        (
            "旧称|新称|严重|说明|多余\n",
            "line 1: 5 fields; a line has at most 4 (term, replacement, severity, note)",
        ),
        (
            "旧称|新称\n旧称2,新称2\n",
            "line 2: separate fields with a TAB or | (not a comma)",
        ),
        (
            "旧称|新称\t严重\n",
            "line 1: separate fields with a TAB or with |, not both on one line",
        ),
        ("旧称|旧称\n", "line 1: the replacement is the term itself"),
    ],
)
def test_bad_lines_name_the_list_and_the_line(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_a_replacement_that_contains_a_term_is_refused() -> None:
    # "中国台湾" contains "台湾": every --fix would add another "中国".
    assert problems("甲|乙\n台湾|中国台湾\n") == [
        "line 2: the replacement '中国台湾' contains the term '台湾' (line 2), so the "
        "fixed text would be flagged again"
    ]
    assert problems("旧称|新名\n新名|新称\n") == [
        "line 1: the replacement '新名' contains the term '新名' (line 2), so the "
        "fixed text would be flagged again"
    ]


def test_every_bad_line_is_reported_at_once() -> None:
    found = problems("好|佳\n坏|差|高\n\n好|优\n", name="list.csv")
    assert found == [
        "line 2: severity must be 严重 or 提示, not '高'",
        "line 4: the term '好' is already on line 1",
    ]
    with pytest.raises(InputError) as caught:
        parse_word_list("坏||高\n", name="list.csv")
    assert (
        str(caught.value) == "list.csv: line 1: severity must be 严重 or 提示, not '高'"
    )


def test_problems_come_in_line_order_and_are_capped() -> None:
    assert problems("旧|新称\n好|佳|高\n新称|新\n") == [
        "line 1: the replacement '新称' contains the term '新称' (line 3), so the "
        "fixed text would be flagged again",
        "line 2: severity must be 严重 or 提示, not '高'",
    ]
    found = problems("".join(f"词{n}||高\n" for n in range(25)))
    assert len(found) == 21
    assert found[0] == "line 1: severity must be 严重 or 提示, not '高'"
    assert found[-1] == "and 5 more problems"


def test_messages_never_show_personal_information() -> None:
    phone = make_mobile(random.Random(3))
    found = problems(f"{phone}|某号码\n{phone}|另一\n甲|乙|{phone}\n")
    assert all(phone not in message for message in found)
    assert found == [
        f"line 2: the term {mask(phone)!r} is already on line 1",
        f"line 3: severity must be 严重 or 提示, not {mask(phone)!r}",
    ]


def test_word_rule_checks_its_term() -> None:
    with pytest.raises(ValueError, match="empty"):
        rule("")
    with pytest.raises(ValueError, match="longer than 50"):
        rule("字" * 51)
    assert rule("字" * 50).term == "字" * 50
    assert Severity.SERIOUS.label == "严重"
    assert Severity.CAUTION.label == "提示"


# -- matching ------------------------------------------------------------------------


def test_findings_have_their_place() -> None:
    text = "第一行没有\n第二行：台湾政府的说法\n\n第四行 北朝鲜，还有台湾政府"
    found = matcher("台湾政府", "北朝鲜").find(text)
    assert [(f.rule.term, f.line, f.column, f.place) for f in found] == [
        ("台湾政府", 2, 5, "第2行 第5列"),
        ("北朝鲜", 4, 5, "第4行 第5列"),
        ("台湾政府", 4, 11, "第4行 第11列"),
    ]
    for f in found:
        assert text[f.start : f.end] == f.rule.term
        assert f.list_name == "test.txt"


def test_longest_match_wins_and_overlapping_later_matches_are_skipped() -> None:
    m = matcher("中华民国", "中华民国总统", "总统选举", "民国")
    found = m.find("中华民国总统选举；中华民国时期")
    assert [(f.rule.term, f.start) for f in found] == [
        ("中华民国总统", 0),  # not 中华民国; and 总统选举 overlaps it
        ("中华民国", 9),  # 民国 starts inside it
    ]


def test_the_earliest_start_wins_over_a_longer_later_term() -> None:
    found = matcher("台湾政", "湾政府工作报告").find("台湾政府工作报告")
    assert [(f.rule.term, f.start) for f in found] == [("台湾政", 0)]


def test_a_term_next_to_itself_is_found_twice() -> None:
    found = matcher("台湾政府").find("台湾政府台湾政府")
    assert [(f.start, f.end) for f in found] == [(0, 4), (4, 8)]


def test_clean_text_has_no_findings() -> None:
    m = WordMatcher([builtin_word_list()])
    text = (
        "某某县人民政府关于2024年度政府信息公开工作年度报告。内地与香港、澳门合作。"
        * 50
    )
    assert m.find(text) == []
    assert m.find("") == []
    assert WordMatcher([]).find("台湾政府") == []


def test_single_characters_and_regex_metacharacters_are_plain_text() -> None:
    m = matcher("囧", "a.b", "[x]", "-^", "\\d", "x|y")
    text = "囧 aXb a.b [x] x -^ 1 \\d x|y"
    assert [f.rule.term for f in m.find(text)] == [
        "囧",
        "a.b",
        "[x]",
        "-^",
        "\\d",
        "x|y",
    ]


def test_full_width_and_half_width_are_not_folded() -> None:
    wide_abc, wide_xy = "\uff21\uff22\uff23", "\uff38\uff39"  # full-width ABC and XY
    m = matcher("ABC", wide_xy)
    assert m.find(f"{wide_abc} XY") == []
    assert [f.rule.term for f in m.find(f"ABC {wide_xy}")] == ["ABC", wide_xy]


def test_several_lists_report_their_name_and_the_first_list_wins() -> None:
    ops = WordList(
        "ops.txt", (rule("某某县人民政布", "某某县人民政府"), rule("北朝鲜", "朝鲜"))
    )
    builtin = builtin_word_list()
    found = WordMatcher([ops, builtin]).find("某某县人民政布：北朝鲜、台湾政府")
    assert [(f.rule.term, f.list_name) for f in found] == [
        ("某某县人民政布", "ops.txt"),
        ("北朝鲜", "ops.txt"),
        ("台湾政府", "内置"),
    ]
    found = WordMatcher([builtin, ops]).find("北朝鲜")
    assert [(f.list_name, f.rule.source) for f in found] == [
        ("内置", "新华社《新华社新闻信息报道中的禁用词和慎用词》（2016年7月修订）")
    ]


def test_text_that_is_not_nfc_is_matched_and_mapped_back() -> None:
    # What a PDF's extracted text can hold: a decomposed accent, a CJK compatibility
    # ideograph (U+F900, whose NFC form is U+8C48) and Hangul jamo.
    compat, unified = "\uf900", "\u8c48"
    assert unicodedata.normalize("NFC", compat) == unified
    text = f"甲Cafe\u0301乙\n丙{compat}有此理，\u1100\u1161台湾政府"
    m = matcher(
        rule("Caf\u00e9", "咖啡馆"), f"{unified}有此理", "\uac00台湾", "台湾政府"
    )
    found = m.find(text)
    assert [(f.rule.term, f.start, f.end, f.line, f.column) for f in found] == [
        ("Caf\u00e9", 1, 6, 1, 2),
        (f"{unified}有此理", 9, 13, 2, 2),
        ("\uac00台湾", 14, 18, 2, 7),
    ]
    assert (
        replace_words(text, found[:1])
        == f"甲咖啡馆乙\n丙{compat}有此理，\u1100\u1161台湾政府"
    )


def test_matching_text_that_is_not_nfc_equals_matching_its_nfc_form() -> None:
    rng = random.Random(15)
    letters = [
        "e",
        "\u0301",
        "\u0323",
        "\uf900",
        "\u8c48",
        "\u1100",
        "\u1161",
        "甲",
        "\n",
        "a",
    ]
    text = "".join(rng.choices(letters, k=5000))
    normal = unicodedata.normalize("NFC", text)
    assert normal != text
    terms = sorted(
        {normal[i : i + rng.randint(1, 3)] for i in range(0, len(normal), 7)}
    )
    m = matcher(*(t for t in terms if "\n" not in t))
    found, expected = m.find(text), m.find(normal)
    assert [f.rule.term for f in found] == [f.rule.term for f in expected]
    for f in found:
        assert f.rule.term in unicodedata.normalize("NFC", text[f.start : f.end])
    assert [f.start for f in found] == sorted(f.start for f in found)


def test_matches_the_reference_semantics_on_dense_text() -> None:
    # Few letters, many overlapping terms: compare with one regular expression of the
    # escaped terms, longest first (leftmost, then longest, non-overlapping).
    rng = random.Random(16)
    letters = "甲乙丙丁戊己庚a.|"
    terms = sorted(
        {"".join(rng.choices(letters, k=rng.randint(1, 5))) for _ in range(300)}
    )
    text = "".join(rng.choices(letters + "\n", k=20_000))
    reference = re.compile(
        "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    )
    expected = [(m.start(), m.end()) for m in reference.finditer(text)]
    found = matcher(*terms).find(text)
    assert [(f.start, f.end) for f in found] == expected
    assert len(expected) > 1000
    for f in found[::97]:
        assert f.line == text.count("\n", 0, f.start) + 1
        assert f.column == f.start - (text.rfind("\n", 0, f.start) + 1) + 1


def test_two_megabytes_against_two_thousand_terms() -> None:
    rng = random.Random(2019)
    # Terms from one block of characters, filler text from another: the only
    # occurrences are the planted ones.
    term_chars = [chr(c) for c in range(0x4E00, 0x4F00)]
    filler_chars = [chr(c) for c in range(0x5000, 0x5800)] + ["，", "。", "\n"]
    terms: set[str] = set()
    while len(terms) < 2000:
        terms.add("".join(rng.choices(term_chars, k=rng.randint(2, 8))))
    ordered = sorted(terms)
    ops = WordList("ops.txt", tuple(rule(t) for t in ordered))
    pieces: list[str] = []
    planted: list[tuple[int, str]] = []
    size = 0
    while size < 2_000_000:
        filler = "".join(rng.choices(filler_chars, k=rng.randint(200, 2000)))
        term = rng.choice(ordered)
        pieces += [filler, term]
        planted.append((size + len(filler), term))
        size += len(filler) + len(term)
    text = "".join(pieces)
    assert len(text) >= 2_000_000
    found = WordMatcher([builtin_word_list(), ops]).find(text)
    assert [(f.start, f.rule.term) for f in found] == planted
    assert {f.list_name for f in found} == {"ops.txt"}
    last = found[-1]
    assert last.line == text.count("\n", 0, last.start) + 1


# -- replacing -----------------------------------------------------------------------


def test_replace_words_applies_replacements_and_leaves_the_rest() -> None:
    m = matcher(
        rule("台湾政府", "台湾当局"),
        rule("北朝鲜", "朝鲜"),
        rule("隆重召开", "", Severity.CAUTION),
    )
    text = "北朝鲜代表团；会议隆重召开，台湾政府称，北朝鲜"
    found = m.find(text)
    fixed = replace_words(text, found)
    assert fixed == "朝鲜代表团；会议隆重召开，台湾当局称，朝鲜"
    assert [f.rule.term for f in m.find(fixed)] == ["隆重召开"]
    assert replace_words(text, []) == text
    assert replace_words(text, [f for f in found if f.rule.term == "台湾政府"]) == (
        "北朝鲜代表团；会议隆重召开，台湾当局称，北朝鲜"
    )


def test_replace_words_refuses_findings_of_another_text() -> None:
    found = matcher(rule("台湾政府", "台湾当局")).find("台湾政府")
    with pytest.raises(ValueError, match="is not"):
        replace_words("台湾当局", found)
    overlapping = [found[0], WordFinding(found[0].rule, "x", 2, 6, 1, 3)]
    with pytest.raises(ValueError, match="overlap"):
        replace_words("台湾政府台湾政府", overlapping)


# -- the built-in list ---------------------------------------------------------------


def _builtin_toml() -> dict[str, object]:
    text = (
        resources.files("syndicate.domain")
        .joinpath("wording_builtin.toml")
        .read_text("utf-8")
    )
    return tomllib.loads(text)


def test_builtin_list_is_small_sourced_and_unique() -> None:
    builtin = builtin_word_list()
    assert builtin.name == "内置"
    assert 20 <= len(builtin.rules) <= 40
    terms = [r.term for r in builtin.rules]
    assert len(terms) == len(set(terms))
    meta = _builtin_toml()["meta"]
    assert isinstance(meta, dict)
    cited = [f"《{s['title']}》（{s['edition']}）" for s in meta["source"]]
    for source in meta["source"]:
        assert source["read_at"]
        assert all(url.startswith(("http://", "https://")) for url in source["read_at"])
    for r in builtin.rules:
        assert isinstance(r.severity, Severity)
        assert r.note
        assert any(r.source.endswith(c) for c in cited), r.source
    assert {r.severity for r in builtin.rules} == {Severity.SERIOUS, Severity.CAUTION}


def test_builtin_rules_find_themselves_and_fixes_create_no_finding() -> None:
    builtin = builtin_word_list()
    m = WordMatcher([builtin])
    for r in builtin.rules:
        found = m.find(f"据悉，{r.term}。")
        assert [(f.rule, f.start) for f in found] == [(r, 3)], r.term
        assert m.find(r.replacement) == [], r.term
        if r.replacement:
            assert m.find(replace_words(f"据悉，{r.term}。", found)) == [], r.term


def test_builtin_list_is_read_once() -> None:
    assert builtin_word_list() is builtin_word_list()
