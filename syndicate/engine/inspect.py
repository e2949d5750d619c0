"""Engine operations: self-inspection against the 国办秘函〔2019〕19号 indicators.

```python
from syndicate.engine import Engine

with Engine.open("/srv/disclosure") as engine:
    report = engine.inspect()
    for finding in report.vetoes:
        print(finding.name, finding.path or finding.ref, finding.message)
```

Only reads: the two logs, the outlet configuration and the portal's folder
(`syndicate.audit.inspect`; the rules are in docs/inspection.md).
"""

from __future__ import annotations

from datetime import date

from syndicate.audit.deadlines import WorkdayCalendar
from syndicate.audit.facts import china_date, item_facts
from syndicate.audit.inspect import (
    Finding,
    InspectionReport,
    Severity,
    inspect_home,
)
from syndicate.engine._base import EngineBase, store_errors

__all__ = ["Finding", "InspectOps", "InspectionReport", "Severity"]


class InspectOps(EngineBase):
    """Engine operations: self-inspection against the 国办秘函〔2019〕19号 indicators."""

    def inspect(
        self, *, today: date | None = None, calendar: WorkdayCalendar | None = None
    ) -> InspectionReport:
        """What an inspector applying 国办秘函〔2019〕19号 would find, as of `today`
        (default: today in China on the engine's clock): the portal's home page and
        columns (2 weeks / 6 months), empty columns, dead links and pages without a
        publication date in the portal's folder, new-media accounts silent for 2
        weeks, policies without a 解读, 公示 published late, and items later than
        their catalogue 时限 (`time_limit_days`, working days on `calendar`, default
        the official one). Veto findings (单项否决) come first. The portal's files are
        read as they are now, whatever `today` says; outlets that do not load are
        named in `notes`, never an error."""
        calendar = calendar if calendar is not None else WorkdayCalendar()
        with store_errors():
            day = today or china_date(self.clock())
            outlets, problems = self.project.outlets_for_reading()
            kinds = {n: self.project.outlet_kind(n) for n in [*outlets, *problems]}
            items = self.items
            everything = [item for item, _ in items.items_as_of(items.position())]
            return inspect_home(
                everything,
                item_facts(items),
                self.deliveries,
                outlets=outlets,
                problems=problems,
                kinds=kinds,
                today=day,
                calendar=calendar,
            )
