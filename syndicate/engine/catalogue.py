"""Engine operations: the standard catalogue (标准目录): import, versions, coverage.

```python
with Engine.open(home) as engine:
    result = engine.import_catalogue(Path("临溪县社会救助标准目录.xlsx"), actor="张三")
    print(result.version, len(result.change.added))
    report = engine.coverage(quarter="2026Q2")
    for row in report.blanks:
        print(row.entry.path, row.state.label)
```

Reading the file is `syndicate.catalogue_files`; recording a version is
`Disclosures.import_catalogue` (the catalogue is an aggregate in the items log, so
`audit verify` covers every version); coverage is `syndicate.audit.coverage`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from syndicate.audit.coverage import CoverageReport, Quarter, coverage
from syndicate.audit.facts import china_date, item_facts
from syndicate.audit.trail import safe_csv
from syndicate.catalogue_files import read_catalogue
from syndicate.domain.catalogue import area_by_code
from syndicate.domain.standard import CatalogueChange, CatalogueVersion, diff
from syndicate.engine._base import EngineBase, store_errors
from syndicate.errors import InputError, Problem

__all__ = ["CatalogueImport", "CatalogueOps", "catalogue_csv"]


@dataclass(frozen=True)
class CatalogueImport:
    """What `import_catalogue` recorded: the version in force and what changed
    (`recorded` is False when the file changed nothing)."""

    version: CatalogueVersion
    change: CatalogueChange
    recorded: bool
    sheets: tuple[str, ...]
    source: str  # the file's name as recorded (characters a terminal obeys as "?")


class CatalogueOps(EngineBase):
    """Engine operations: the standard catalogue (标准目录)."""

    def import_catalogue(
        self, path: Path, *, actor: str, dry_run: bool = False
    ) -> CatalogueImport:
        """Read the catalogue in `path` (.xlsx or .csv) and record it as the next
        version (the first import starts the catalogue; a later one records the 事项
        added, removed and changed). Nothing is recorded if the file has any problem
        (`InputError` names each by sheet, row and column) or changes nothing, or with
        `dry_run` (the change is still worked out)."""
        read = read_catalogue(path)
        with store_errors():
            if dry_run:
                current = self.items.catalogue_aggregate()
                old = current.entries if current is not None else {}
                change = diff(old, {e.code: e for e in read.entries})
                version = (
                    current.current
                    if current is not None
                    else CatalogueVersion(
                        version=0,
                        entries=read.entries,
                        source=read.source,
                        sha256=read.sha256,
                        actor=actor,
                        at=self.clock(),
                        change=change,
                    )
                )
                return CatalogueImport(version, change, False, read.sheets, read.source)
            before = self.items.catalogue()
            version, change = self.items.import_catalogue(
                read.entries, source=read.source, sha256=read.sha256, actor=actor
            )
        recorded = before is None or version.version != before.version
        return CatalogueImport(version, change, recorded, read.sheets, read.source)

    def catalogue(self, version: int | None = None) -> CatalogueVersion:
        """The catalogue in force (or version `version`); `InputError` when the home
        has none or no such version."""
        with store_errors():
            found = self.items.catalogue_aggregate()
        if found is None:
            raise InputError(
                [
                    Problem(
                        "catalogue",
                        "this home has no standard catalogue yet; import one with "
                        "`syndicate catalogue import FILE.xlsx`",
                    )
                ]
            )
        if version is None:
            return found.current
        for v in found.versions:
            if v.version == version:
                return v
        raise InputError(
            [
                Problem(
                    "--version",
                    f"no catalogue version {version}; versions are 1 to "
                    f"{found.current.version}",
                )
            ]
        )

    def catalogue_versions(self) -> list[CatalogueVersion]:
        """Every version of the catalogue, oldest first (empty when none)."""
        with store_errors():
            found = self.items.catalogue_aggregate()
        return list(found.versions) if found is not None else []

    def coverage(
        self,
        *,
        quarter: str | Quarter | None = None,
        agency: str | None = None,
        today: date | None = None,
    ) -> CoverageReport:
        """Each 事项 of the catalogue in force (of `agency`, when given) with what was
        published for it and the blanks, for `quarter` (default: this quarter)."""
        version = self.catalogue()
        day = today or china_date(self.clock())
        wanted = (
            quarter
            if isinstance(quarter, Quarter)
            else Quarter.parse(quarter)
            if quarter is not None
            else Quarter.of(day)
        )
        if agency is not None and not any(e.agency == agency for e in version.entries):
            agencies = "、".join(dict.fromkeys(e.agency for e in version.entries))
            raise InputError(
                [
                    Problem(
                        "--agency",
                        f"{agency!r} is the 公开主体 of no 事项 in the catalogue "
                        f"(it names {agencies})",
                    )
                ]
            )
        with store_errors():
            facts = item_facts(self.items)
        return coverage(version, facts, quarter=wanted, today=day, agency=agency)


_EXPORT_HEADER = (
    "事项编码",
    "一级事项",
    "二级事项",
    "公开内容",
    "公开依据",
    "公开时限",
    "公开主体",
    "公开渠道和载体",
    "公开对象",
    "公开方式",
    "公开层级",
    "事项类别",
    "监督投诉",
    "领域",
)


def catalogue_csv(version: CatalogueVersion) -> str:
    """A catalogue version as CSV in the usual column layout (the portal shows it as
    a table when it is the attachment of a `page_kind = "catalogue"` item); reading
    it back with `import_catalogue` gives the same 事项."""
    return safe_csv(
        _EXPORT_HEADER,
        (
            (
                e.code,
                e.level1,
                e.level2 or "",
                e.item,
                e.basis,
                e.time_limit,
                e.agency,
                "、".join([c.label for c in e.channels] + list(e.other_channels)),
                e.audience,
                e.attribute.label,
                e.level or "",
                e.category or "",
                e.supervision or "",
                area_by_code(e.area).name if e.area else "",
            )
            for e in version.entries
        ),
    )
