"""The portal takes a batch of renditions at once (`deliver_many`): each page the batch
touches is rendered once and one durable commit covers every file. A batch must leave the
bytes one-at-a-time deliveries and a rebuild leave, fail one bad rendition alone, and be
finished (same boot) or undone and rebuilt (after a restart) when it was cut short."""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
from pathlib import Path

import pytest
import requests
from syndicate_adapters.portal import PortalAdapter, PortalSettings, PortalSite

from bench.portal import item_view_for, job_for
from syndicate.adapter import Operation, Rendition
from syndicate.adapterkit import canonical_json
from syndicate.domain.deliveries import DeliveryState
from syndicate.errors import PermanentDeliveryError, TransientDeliveryError
from tests.adapters.test_portal import (
    Site,
    _rebuilt_copy,
    publish_three,
    site,  # noqa: F401  (the fixture)
    state_folder,
    tree,
)
from tests.conftest import content

SITE = "https://www.linxi.gov.cn"
SESSION = requests.Session()


def _adapter(root: Path) -> PortalAdapter:
    return PortalAdapter(
        PortalSettings.model_validate({"path": root, "site_url": SITE})
    )


def _renditions(seed: int, steps: int = 90) -> list[Rendition]:
    """Publications, revisions, withdrawals and 解读 links of 30 items over about three
    months, in log order."""
    rng = random.Random(seed)
    render = _adapter(Path("unused")).render
    versions: dict[int, int] = {}
    out = []
    for _ in range(steps):
        n = rng.randrange(30) * 45  # 20 a day: about 2 days apart, 68 days in all
        version = versions.get(n, 0) + 1
        versions[n] = version
        view = item_view_for(n, version)
        roll = rng.random()
        if roll < 0.25 and n:  # interprets another item
            target = item_view_for(rng.randrange(n // 45) * 45).item_id
            view = dataclasses.replace(
                view,
                content=view.content.model_copy(update={"interprets": target}),
            )
        job = job_for(view)
        if roll > 0.85 and version > 1:
            job = dataclasses.replace(job, operation=Operation.RETRACT)
        out.append(render(job))
    return out


def _state(root: Path) -> dict[str, bytes]:
    """The state folder, but for the web-server snippets (they name the folder)."""
    found = tree(state_folder(root))
    return {k: v for k, v in found.items() if k not in ("nginx.conf", "apache.conf")}


def _in_batches(
    rng: random.Random, renditions: list[Rendition]
) -> list[list[Rendition]]:
    batches, at = [], 0
    while at < len(renditions):
        size = rng.choice((1, 2, 5, 17, 40))
        batches.append(renditions[at : at + size])
        at += size
    return batches


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batches_leave_the_bytes_of_one_at_a_time_and_of_a_rebuild(
    tmp_path: Path, seed: int
) -> None:
    renditions = _renditions(seed)
    single = _adapter(tmp_path / "single")
    for r in renditions:
        single.deliver(r, SESSION)
    batched = _adapter(tmp_path / "batched")
    rng = random.Random(seed)
    sizes = []
    for batch in _in_batches(rng, renditions):
        receipts = batched.deliver_many(batch, SESSION)
        assert len(receipts) == len(batch)
        assert not [r for r in receipts if isinstance(r, Exception)]
        sizes.append(len(batch))
    assert max(sizes) > 10  # real batches, with an item more than once in some
    assert tree(tmp_path / "batched") == tree(tmp_path / "single")
    assert tree(state_folder(tmp_path / "batched") / "entries") == tree(
        state_folder(tmp_path / "single") / "entries"
    )
    # No journal is left, and the state equals the state of one-at-a-time deliveries.
    assert not (state_folder(tmp_path / "batched") / "journal.json").exists()
    assert _state(tmp_path / "batched") == _state(tmp_path / "single")
    rebuilt = _rebuilt_copy(
        tmp_path / "batched", batched.settings, tmp_path / "rebuilt"
    )
    assert tree(tmp_path / "batched") == rebuilt


def test_one_rendition_that_cannot_be_written_fails_alone(tmp_path: Path) -> None:
    adapter = _adapter(tmp_path / "site")
    good = [adapter.render(job_for(item_view_for(n))) for n in (0, 20, 40)]
    data = json.loads(good[1].data)
    data["entry"]["attachments"] = [{"name": "名单.csv", "sha256": "a" * 64, "size": 9}]
    missing = Rendition.of(
        canonical_json(data),
        good[1].media_type,
        key=good[1].key,
        meta={"attachments": str(tmp_path / "empty-store")},
    )
    answers = adapter.deliver_many([good[0], missing, good[2]], SESSION)
    assert isinstance(answers[1], PermanentDeliveryError)
    assert "missing from the attachment store" in str(answers[1])
    assert [a.remote_id for a in (answers[0], answers[2])] == [  # type: ignore[union-attr]
        f"items/{item_view_for(n).item_id}.html" for n in (0, 40)
    ]
    assert adapter.site.inventory() == {item_view_for(n).item_id for n in (0, 40)}
    assert tree(tmp_path / "site") == _rebuilt_copy(
        tmp_path / "site", adapter.settings, tmp_path / "rebuilt"
    )


def _crashing_writes(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    real = PortalSite._write
    count = {"n": 0}

    def write(
        self: PortalSite, relative: str, data: str | bytes, *, base: Path | None = None
    ) -> None:
        count["n"] += 1
        if count["n"] > limit:
            raise OSError(5, "simulated crash")
        real(self, relative, data, base=base)

    monkeypatch.setattr(PortalSite, "_write", write)


def _base(tmp_path: Path) -> tuple[Path, list[Rendition], Rendition]:
    """A site of 40 items; a batch of revisions and new items (one starting a month);
    an unrelated later delivery."""
    base = tmp_path / "base"
    adapter = _adapter(base)
    adapter.deliver_many(
        [adapter.render(job_for(item_view_for(n))) for n in range(0, 400, 10)], SESSION
    )
    batch = [adapter.render(job_for(item_view_for(n, 2))) for n in (0, 50, 390)]
    batch += [adapter.render(job_for(item_view_for(n))) for n in (405, 1400)]
    later = adapter.render(job_for(item_view_for(100, 2)))
    return base, batch, later


def _copy(base: Path, to: Path) -> PortalAdapter:
    shutil.rmtree(to, ignore_errors=True)
    shutil.rmtree(state_folder(to), ignore_errors=True)
    shutil.copytree(base, to)
    shutil.copytree(state_folder(base), state_folder(to))
    return _adapter(to)


def test_a_batch_cut_short_at_any_write_is_finished_by_the_next_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies (same boot: every write made is still there) after each write
    of a batch; the next delivery finishes it: exactly what a rebuild gives."""
    base, batch, later = _base(tmp_path)
    crashes = 0
    for limit in range(0, 80, 3):
        crashing = _copy(base, tmp_path / "crash")
        _crashing_writes(monkeypatch, limit)
        try:
            crashing.deliver_many(batch, SESSION)
        except TransientDeliveryError:
            crashes += 1
            assert (state_folder(tmp_path / "crash") / "journal.json").is_file()
        monkeypatch.undo()
        crashing.deliver(later, SESSION)
        assert not (state_folder(tmp_path / "crash") / "journal.json").exists()
        expected = _rebuilt_copy(
            tmp_path / "crash", crashing.settings, tmp_path / "expected"
        )
        assert tree(tmp_path / "crash") == expected, f"crash after {limit} writes"
    assert crashes >= 20  # the crash points really were inside the batch


def test_after_a_restart_a_batch_cut_short_is_undone_and_the_site_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power loss: files the batch wrote without an fsync may be empty. The journal
    (written durably first) has another boot: the entries the batch replaced come back,
    the site is rebuilt from the entries, and the batch sent again lands whole."""
    base, batch, later = _base(tmp_path)
    before = tree(state_folder(base) / "entries")
    root = tmp_path / "lost"
    for limit in (8, 14, 40):
        crashing = _copy(base, root)
        _crashing_writes(monkeypatch, limit)
        with pytest.raises(TransientDeliveryError):
            crashing.deliver_many(batch, SESSION)
        monkeypatch.undo()
        state = state_folder(root)
        journal = json.loads((state / "journal.json").read_bytes())
        assert journal["boot"]
        # What the page cache held is lost: every file the batch wrote is now empty.
        stamp = (state / "journal.json").stat().st_mtime_ns
        journal["boot"] = "another boot"
        (state / "journal.json").write_bytes(canonical_json(journal))
        emptied = 0
        for folder in (root, state):
            for f in folder.rglob("*"):
                if (
                    f.is_file()
                    and f.stat().st_mtime_ns >= stamp
                    and f.name not in ("lock", "journal.json")
                ):
                    f.write_bytes(b"")
                    emptied += 1
        assert emptied >= 1
        crashing.deliver(later, SESSION)
        entries = tree(state / "entries")
        later_name = f"{item_view_for(100).item_id}.json"
        assert {k: v for k, v in entries.items() if k != later_name} == {
            k: v for k, v in before.items() if k != later_name
        }
        assert not (state / "journal.json").exists()
        assert tree(root) == _rebuilt_copy(root, crashing.settings, tmp_path / "exp")
        # The worker sends the batch again (its outcomes were never recorded).
        assert not [
            a for a in crashing.deliver_many(batch, SESSION) if isinstance(a, Exception)
        ]
        whole = _copy(base, tmp_path / "whole")
        whole.deliver_many(batch, SESSION)
        whole.deliver(later, SESSION)
        assert tree(root) == tree(tmp_path / "whole")


def test_the_worker_sends_a_portal_its_deliveries_in_batches(
    site: Site,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Groups of up to `many_batch_size`, one `deliver_many` call each; a batch the
    site refuses as a whole fails every delivery in it, to be tried again."""
    calls: list[int] = []
    real = PortalAdapter.deliver_many

    def counted(
        self: PortalAdapter, renditions: list[Rendition], session: requests.Session
    ) -> list[object]:
        calls.append(len(renditions))
        return real(self, renditions, session)  # type: ignore[return-value]

    monkeypatch.setattr(PortalAdapter, "deliver_many", counted)
    publish_three(site, tmp_path)
    with site.project.disclosures(clock=site.clock) as items:
        items.publish_many(
            [content(index_no=f"B/2026-{n:04d}") for n in range(450)], actor="t"
        )
    assert site.sync() == {"succeeded": 453}
    assert calls == [200, 200, 53]
    assert len(list((site.root / "items").glob("*.html"))) == 453

    def refused(self: PortalSite, renditions: object) -> object:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PortalSite, "apply_many", refused)
    with site.project.disclosures(clock=site.clock) as items:
        for n in range(3):
            items.revise(
                items.resolve(f"临溪县民政局/B/2026-{n:04d}"),
                content(index_no=f"B/2026-{n:04d}", body="更正"),
                reason="r",
                actor="t",
            )
    with (
        site.project.disclosures(clock=site.clock) as items,
        site.project.deliveries(items, clock=site.clock, outlets=site.outlets) as log,
    ):
        from syndicate.delivery import Worker

        log.plan()
        worker = Worker(log, items, site.outlets, name="w", clock=site.clock)
        try:
            summary = worker.run_until_idle()
        finally:
            worker.close()
        failed = [
            d
            for d in log.all_deliveries().values()
            if d.state is DeliveryState.RETRYING
        ]
    assert dict(summary.outcomes) == {"retrying": 3}
    assert len(failed) == 3
    assert all("No space left on device" in (d.last_error or "") for d in failed)
    monkeypatch.undo()
    site.clock.advance(minutes=10)
    assert site.sync() == {"succeeded": 3}


@pytest.mark.parametrize(
    "journal",
    [
        {"batch": [{"id": "../../../evil", "stored": None}], "boot": "same"},
        {
            "batch": [
                {
                    "id": "ID",
                    "stored": {
                        "entry": {"id": "ID", "month": "../../x"},
                        "article": "<p>伪造</p>",
                    },
                }
            ],
            "boot": "same",
        },
        {
            "batch": [
                {
                    "id": "ID",
                    "stored": {
                        "entry": {"id": "OTHER", "month": "2025-01"},
                        "article": "<p>伪造</p>",
                    },
                }
            ],
            "boot": "b",
        },
        {"id": "ID", "old": {"id": "ID", "month": "/etc"}},
        {"batch": "nonsense"},
        ["not", "a", "journal"],
    ],
)
def test_a_forged_journal_is_not_followed(
    tmp_path: Path, journal: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing named in a journal that is not one of ours reaches a path: the site is
    rebuilt from its entries, nothing put back, nothing written outside."""
    base, _, later = _base(tmp_path)
    adapter = _copy(base, tmp_path / "sites" / "site")
    monkeypatch.setattr("syndicate_adapters.portal._boot_id", lambda: "same")
    victim = item_view_for(0).item_id
    other = item_view_for(10).item_id
    text = json.dumps(journal).replace('"ID"', f'"{victim}"')
    text = text.replace('"OTHER"', f'"{other}"')
    state = state_folder(tmp_path / "sites" / "site")
    (state / "journal.json").write_text(text)
    outside = {p for p in tmp_path.rglob("*") if "sites" not in p.parts}
    adapter.deliver(later, SESSION)
    assert {p for p in tmp_path.rglob("*") if "sites" not in p.parts} == outside
    assert not (state / "journal.json").exists()
    assert not (state / "x.json").exists()
    root = tmp_path / "sites" / "site"
    assert "伪造" not in "".join(v.decode() for v in tree(root).values())
    assert tree(root) == _rebuilt_copy(root, adapter.settings, tmp_path / "exp")


def test_a_rebuild_after_a_restart_puts_the_batch_back_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rebuild` (by hand, or for new settings) reads every entry: after a power loss
    inside a batch it first puts back the entries the batch replaced, never reading
    a torn one, and keeps the batch's journal until that is done."""
    base, batch, _ = _base(tmp_path)
    before = tree(state_folder(base) / "entries")
    root = tmp_path / "lost"
    crashing = _copy(base, root)
    _crashing_writes(monkeypatch, 14)
    with pytest.raises(TransientDeliveryError):
        crashing.deliver_many(batch, SESSION)
    monkeypatch.undo()
    state = state_folder(root)
    journal = json.loads((state / "journal.json").read_bytes())
    journal["boot"] = "another boot"
    (state / "journal.json").write_bytes(canonical_json(journal))
    torn = [p for p in (state / "entries").iterdir() if p.name not in before]
    torn += [state / "entries" / name for name in before]
    for entry in torn:
        if entry.read_bytes() != before.get(entry.name):
            entry.write_bytes(b"")  # what a power loss may leave of a new write
    PortalSite(crashing.settings).rebuild()
    assert tree(state / "entries") == before
    assert not (state / "journal.json").exists()
    assert tree(root) == _rebuilt_copy(root, crashing.settings, tmp_path / "exp")
