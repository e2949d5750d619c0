"""Item files in TOML, JSON and Markdown with front matter; every problem named by field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syndicate.errors import InputError
from syndicate.itemfiles import expand_paths, load_item_file, without_duplicates
from tests.conftest import ITEM_BODY as BODY
from tests.conftest import ITEM_FRONT as FRONT


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        load_item_file(path)
    assert info.value.source == str(path)
    return [str(p) for p in info.value.problems]


def test_the_three_formats_give_the_same_content(tmp_path: Path) -> None:
    md = write(tmp_path, "a.md", f"+++\n{FRONT}+++\n{BODY}")
    toml = write(tmp_path, "b.toml", f'{FRONT}body = """{BODY}"""\n')
    data = {
        "agency": "临溪县民政局",
        "index_no": "11330100MB0000006R/2026-00019",
        "title": "临溪县2026年第一季度城乡最低生活保障审批结果公告",
        "area": "social_assistance",
        "stage": "result",
        "basis": "《社会救助暂行办法》第十一条",
        "formed_on": "2026-04-10",
        "body": BODY,
    }
    js = write(tmp_path, "c.json", json.dumps(data, ensure_ascii=False))
    contents = [load_item_file(p).content for p in (md, toml, js)]
    assert contents[0] == contents[1] == contents[2]
    assert contents[0].body == BODY.strip()


def test_invalid_toml_reports_the_field_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.toml", 'agency = "临溪县民政局"\ntitle = \n')
    [problem] = problems_of(path)
    assert problem == "title: has no value after '=' (line 2)"
    path = write(tmp_path, "bad2.toml", 'agency = "临溪县民政局"\n[x\n')
    [problem] = problems_of(path)
    assert problem.startswith("invalid TOML at line 2: ")


def test_an_impossible_date_names_the_field_the_problem_and_the_line(
    tmp_path: Path,
) -> None:
    front = FRONT.replace("formed_on = 2026-04-10", "formed_on = 2026-13-45")
    assert front != FRONT
    line = 1 + front.splitlines().index("formed_on = 2026-13-45") + 1  # after +++
    path = write(tmp_path, "a.md", f"+++\n{front}+++\n{BODY}")
    [problem] = problems_of(path)
    assert problem == (
        f"formed_on: 2026-13-45 is not a valid date: month must be in 1..12 "
        f"(line {line})"
    )
    short = FRONT.replace("formed_on = 2026-04-10", "formed_on = 2026-4-1")
    [problem] = problems_of(write(tmp_path, "b.md", f"+++\n{short}+++\n{BODY}"))
    assert problem.startswith("formed_on: 2026-4-1 is not a valid date: write it as")


def test_every_problem_of_a_file_is_reported(tmp_path: Path) -> None:
    # Field errors, a cross-field rule (which pydantic skips once a field is bad)
    # and a front-matter problem (the body twice), all in one file.
    front = (
        FRONT.replace('area = "社会救助"', 'area = "不存在"').replace(
            'stage = "结果公开"', 'stage = "无"'
        )
        + 'attribute = "不予公开"\nbody = "正文"\n'
    )
    path = write(tmp_path, "a.md", f"+++\n{front}+++\n{BODY}")
    fields = [p.split(":", 1)[0] for p in problems_of(path)]
    assert sorted(fields) == ["area", "attribute_basis", "body", "stage"]
    # Two cross-field rules broken in an otherwise valid file: both are named.
    (tmp_path / "a.csv").write_text("x\n", "utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.csv").write_text("y\n", "utf-8")
    front = FRONT + 'attribute = "不予公开"\nattachments = ["a.csv", "sub/a.csv"]\n'
    fields = [
        p.split(":", 1)[0]
        for p in problems_of(write(tmp_path, "b.md", f"+++\n{front}+++\n{BODY}"))
    ]
    assert sorted(fields) == ["attachments", "attribute_basis"]
    # JSON: every key given twice, and the fields' own problems.
    js = '{"agency": "x", "agency": "y", "title": "t", "title": "u", "area": "无"}'
    problems = problems_of(write(tmp_path, "c.json", js))
    assert "agency: given twice in the same object" in problems
    assert "title: given twice in the same object" in problems
    assert any(p.startswith("area: unknown pilot area") for p in problems)


def test_duplicates_in_a_batch_are_found_by_item_id(tmp_path: Path) -> None:
    first = load_item_file(write(tmp_path, "a.md", f"+++\n{FRONT}+++\n{BODY}"))
    again = load_item_file(write(tmp_path, "b.md", f"+++\n{FRONT}+++\n其他正文"))
    other = load_item_file(
        write(
            tmp_path,
            "c.md",
            f"+++\n{FRONT.replace('2026-00019', '2026-00020')}+++\n{BODY}",
        )
    )
    unique, duplicates = without_duplicates([first, again, other])
    assert unique == [first, other]
    [duplicate] = duplicates
    assert (duplicate.item, duplicate.first, duplicate.same_file) == (
        again,
        first,
        False,
    )
    assert "b.md: the same item as" in str(duplicate)
    assert "a.md" in str(duplicate)


def test_invalid_json_reports_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", '{"agency": "x",\n "title": }')
    [problem] = problems_of(path)
    assert problem.startswith("invalid JSON at line 2, column")


def test_json_must_be_an_object(tmp_path: Path) -> None:
    assert problems_of(write(tmp_path, "list.json", "[]")) == [
        "a JSON item file must hold one object"
    ]


def test_markdown_needs_front_matter(tmp_path: Path) -> None:
    [problem] = problems_of(write(tmp_path, "plain.md", "# 标题\n正文\n"))
    assert "front matter" in problem
    [problem] = problems_of(write(tmp_path, "open.md", f"+++\n{FRONT}正文\n"))
    assert "no closing '+++'" in problem
    [problem] = problems_of(
        write(tmp_path, "twice.md", f'+++\n{FRONT}body = "x"\n+++\n{BODY}')
    )
    assert problem.startswith("body: given in the front matter and after it")


def test_every_problem_in_a_file_is_listed_with_its_field(tmp_path: Path) -> None:
    front = FRONT.replace('area = "社会救助"', 'area = "低保"')
    front = front.replace("formed_on = 2026-04-10", 'formed_on = "2026-04-31"')
    front = front.replace('basis = "《社会救助暂行办法》第十一条"\n', "")
    found = problems_of(write(tmp_path, "bad.md", f"+++\n{front}+++\n{BODY}"))
    fields = sorted(p.split(":", 1)[0] for p in found)
    assert fields == ["area", "basis", "formed_on"]
    assert any("invalid date '2026-04-31'" in p for p in found)


def test_attachments_are_read_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "att").mkdir()
    (tmp_path / "att" / "名单.csv").write_text("户主\n王*明\n", "utf-8")
    path = write(
        tmp_path,
        "a.md",
        f'+++\n{FRONT}attachments = ["att/名单.csv", '
        f'{{ path = "att/名单.csv", name = "补贴名单.csv" }}]\n+++\n{BODY}',
    )
    loaded = load_item_file(path)
    names = [a.name for a in loaded.content.attachments]
    assert names == ["名单.csv", "补贴名单.csv"]
    assert loaded.attachments[0].data == "户主\n王*明\n".encode()
    assert loaded.content.attachments[0].media_type == "text/csv"


def test_missing_attachment_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path, "a.md", f'+++\n{FRONT}attachments = ["nope.pdf"]\n+++\n{BODY}'
    )
    [problem] = problems_of(path)
    assert problem.startswith("attachments[0]: file not found")


def test_unsupported_and_non_utf8_files(tmp_path: Path) -> None:
    [problem] = problems_of(write(tmp_path, "a.txt", "x"))
    assert "unsupported file type '.txt'" in problem
    latin = tmp_path / "a.toml"
    latin.write_bytes('title = "caf\xe9"'.encode("latin-1"))
    [problem] = problems_of(latin)
    assert problem.startswith("the file is not UTF-8 text (the first bad byte is at")


def test_directories_expand_to_their_item_files(tmp_path: Path) -> None:
    write(tmp_path, "b.md", "x")
    write(tmp_path, "a.toml", "x")
    write(tmp_path, "c.json", "x")
    write(tmp_path, "notes.txt", "x")
    write(tmp_path, ".hidden.md", "x")
    (tmp_path / "sub").mkdir()
    assert [p.name for p in expand_paths([tmp_path])] == ["a.toml", "b.md", "c.json"]
    with pytest.raises(InputError, match="no such file or directory"):
        expand_paths([tmp_path / "missing"])
    with pytest.raises(InputError, match="no item files"):
        expand_paths([tmp_path / "sub"])


def test_every_example_item_is_valid() -> None:
    examples = Path(__file__).resolve().parent.parent / "examples" / "items"
    loaded = [load_item_file(p) for p in expand_paths([examples])]
    assert len(loaded) >= 12
    kinds = {p.suffix for p in expand_paths([examples])}
    assert kinds == {".md", ".toml", ".json"}
    assert any(i.content.interprets for i in loaded)
    assert any(i.content.notice_period for i in loaded)
    assert any(i.attachments for i in loaded)
