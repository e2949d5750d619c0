"""Publish, revise and withdraw a disclosure item through the library API.

Run it with `python examples/publish_with_api.py [HOME]`; it creates HOME (default: a new
temporary directory), publishes a village-affairs notice, corrects it, withdraws it, and
prints the event log. A portal backend would do the same from its own request handlers.

The home it makes does not review before release (`[review] levels = []`), so each call
takes effect at once. A home made with review (the default of `Engine.init` and
`syndicate init`) submits each of them for review instead: see "Review before release"
in docs/api.md, and the review screen of examples/portal_backend.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from syndicate import (
    AlreadyPublished,
    ChannelCategory,
    Engine,
    ItemContent,
    NoticePeriod,
    Stage,
)


def main(home: Path) -> None:
    # As `syndicate init --no-review`: syndicate.toml, stores, key pair; no review.
    made = Engine.init(home, review=False)
    today = datetime.now(timezone(timedelta(hours=8))).date()  # China's date
    notice = ItemContent(
        agency="临溪县青石镇柳塘村村民委员会",
        index_no="LXQS-LT/2026-00011",
        title="柳塘村2026年村级公益事业一事一议筹资筹劳方案公示",
        body=(
            "经村民代表会议讨论通过，2026年拟实施村内道路硬化工程1.2公里，"
            "总投资36万元，其中申请财政奖补24万元，村民筹资12万元（每人80元）。\n\n"
            "公示期内如有异议，请向村务监督委员会反映。"
        ),
        area="扶贫",  # a Chinese name or a code such as "poverty_alleviation"
        stage=Stage.DECISION,
        basis="《中华人民共和国村民委员会组织法》第二十四条",
        audience="柳塘村村民",
        formed_on=today - timedelta(days=1),
        # A 公示 runs from today for 15 days: one already over, or shorter than
        # [notice] minimum_working_days (5), is refused without late_reason=.
        notice_period=NoticePeriod(start=today, end=today + timedelta(days=14)),
        channels=(
            ChannelCategory.PORTAL,
            ChannelCategory.GROUP,
            ChannelCategory.NOTICEBOARD,
        ),
    )
    with Engine(made.project) as engine:
        disclosures = engine.items  # the items log
        change = disclosures.publish(notice, actor="村委会 周文书")
        print(f"published {change.ref} as version {change.version}")
        try:
            disclosures.publish(notice, actor="村委会 周文书")
        except AlreadyPublished as exc:
            print(f"refused as expected: {exc}")
        corrected = ItemContent.model_validate(
            {**notice.model_dump(), "body": notice.body.replace("每人80元", "每人75元")}
        )
        change = disclosures.revise(
            change.item_id, corrected, reason="更正人均筹资额", actor="村委会 周文书"
        )
        print(f"revised to version {change.version}")
        disclosures.withdraw(
            change.item_id,
            reason="方案需重新召开村民代表会议表决",
            public_note="该方案已撤回，重新表决后另行公示。",
            actor="村委会 周文书",
        )
        for row in disclosures.read_log():
            print(
                row.position, row.event, row.version, row.actor, row.reason or row.title
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
