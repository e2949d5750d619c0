"""The benchmarks run end to end (smoke runs; the figures live in docs/performance.md)."""

from __future__ import annotations

import os
import sys

import psycopg
import pytest

from bench import (
    audit,
    deliver,
    first_sync,
    groups,
    pii,
    portal,
    publish,
    replay,
    review,
    scale,
    sheets,
    startup,
)
from bench.measure import measured
from tests.conftest import PG_URL, require_postgres


def test_publish_benchmark_reports_both_ratios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ratios = publish.main(["--quick"])
    assert set(ratios) == {"single_ratio", "batch_ratio"}
    assert all(r > 0 for r in ratios.values())
    out = capsys.readouterr().out
    assert "single publish:" in out
    assert "batch of 100:" in out


def test_delivery_benchmark_compares_with_apprise_and_bare_requests(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ratios = deliver.main(["--quick"])
    assert set(ratios) == {"vs_apprise", "vs_bare", "concurrent"}
    assert ratios["vs_bare"] > 0
    assert ratios["concurrent"] > 0
    out = capsys.readouterr().out
    assert "syndicate / apprise:" in out
    assert "at once / one at a time:" in out


def test_portal_benchmark_reports_rebuild_speed_and_revision_ratio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    figures = portal.main(["--quick"])
    assert set(figures) == {"pages_per_second", "revision_ratio"}
    assert figures["pages_per_second"] > 0
    out = capsys.readouterr().out
    assert "rebuild of 1,000 items: 1,1" in out  # every item, column and month page
    assert "revision 1,000 / 100:" in out


def test_audit_benchmark_reports_verify_replay_and_prove_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    figures = audit.main(["--quick"])
    assert set(figures) == {
        "verify_ratio",
        "verify_one_thread_ratio",
        "replay_memory_ratio",
        "prove_seconds",
        "verify_process_ratio",
    }
    assert figures["verify_ratio"] > 0
    assert figures["verify_process_ratio"] > 0
    assert figures["verify_one_thread_ratio"] > 0
    assert figures["replay_memory_ratio"] > 0
    out = capsys.readouterr().out
    assert "verify / raw read (rate):" in out
    assert "pure Python on one thread:" in out
    assert "replay peak memory large / small:" in out
    assert "verify as a process / sqlite3 read as a process:" in out


def test_sheet_benchmark_reports_time_size_and_speedup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    figures = sheets.main(["--quick"])
    assert set(figures) == {"seconds_per_sheet", "speedup", "largest_bytes"}
    assert 0 < figures["largest_bytes"] <= 1_000_000
    assert figures["speedup"] > 0
    out = capsys.readouterr().out
    assert "baseline / syndicate:" in out
    assert "sheet sizes:" in out


def test_review_benchmark_reports_how_approval_grows_with_the_log(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ratios = review.main(["--quick"])
    assert set(ratios) == {"approve_growth", "list_growth"}
    assert all(r > 0 for r in ratios.values())
    assert "approve, log x10:" in capsys.readouterr().out


def test_pii_benchmark_reports_speed_cost_and_recall(
    capsys: pytest.CaptureFixture[str],
) -> None:
    figures = pii.main(["--quick"])
    assert figures["recall"] == 1.0
    assert figures["false_positives"] == 0.0
    assert figures["rows_per_s"] > 0
    out = capsys.readouterr().out
    assert "guard / publish:" in out
    assert figures["list_check_vs_publish"] > 0


def test_groups_benchmark_reports_digest_ratios_and_no_penalties(
    capsys: pytest.CaptureFixture[str],
) -> None:
    figures = groups.main(["--groups", "3", "--items", "10", "--latency", "0"])
    assert figures["penalties"] == 0
    assert figures["message_ratio"] == pytest.approx(1 / 10)  # one message a group
    out = capsys.readouterr().out
    assert "no digest  wall" in out
    assert "digest / no digest:" in out


def test_startup_benchmark_times_the_commands_as_processes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    figures = startup.main(["--quick"])
    assert set(figures) == {"help_seconds", "status_seconds", "help_vs_typer"}
    assert figures["help_seconds"] > 0
    out = capsys.readouterr().out
    assert "--help / import typer:" in out


def test_scale_benchmark_compares_a_large_home_with_a_small_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ratios = scale.main(["--quick"])
    assert set(ratios) == {
        "sync (process)",
        "status REF (process)",
        "sync (in process)",
        "status REF (in process)",
        "first sync",
    }
    assert all(r > 0 for r in ratios.values())
    out = capsys.readouterr().out
    assert "items vs 100" in out
    assert "large/small" in out


def test_first_sync_benchmark_times_a_whole_portal_sync_as_a_process(
    capsys: pytest.CaptureFixture[str],
) -> None:
    figures = first_sync.main(["--quick"])
    assert figures["items"] == 300
    assert figures["seconds"] > 0
    out = capsys.readouterr().out
    assert "first sync of 300 items to the portal" in out
    assert "target <= 120 s" in out


def test_replay_benchmark_measures_replay_as_a_process_by_items(
    capsys: pytest.CaptureFixture[str],
) -> None:
    figures = replay.main(["--quick"])
    assert figures["small_rss"] > 0
    assert figures["large_rss"] > 0
    assert figures["replay_rss_ratio"] == figures["large_rss"] / figures["small_rss"]
    out = capsys.readouterr().out
    assert "small: 100 items" in out
    assert "large: 1,000 items" in out
    assert "target <= 1.3, items x10" in out


@pytest.mark.postgres
def test_county_benchmark_runs_every_command_on_a_county_log_in_postgresql(
    capsys: pytest.CaptureFixture[str],
) -> None:
    require_postgres()
    before = _county_schemas()  # counties kept with --homes stay
    figures = scale.main(["--county", "--quick"])
    # 300 items to 8 outlets, and the 5 社会救助 items (one in 70) to 20 groups too.
    assert figures["deliveries"] == 300 * 8 + 5 * 20
    assert figures["delivery events"] >= 3 * figures["deliveries"]
    for name in ("audit verify", "audit consistency", "status REF, median"):
        assert figures[name] > 0
        assert 10 < figures[f"{name} (MiB)"] < 1024
    assert figures["workers 4 vs 1"] > 0
    out = capsys.readouterr().out
    assert "PostgreSQL 1" in out  # the machine line names the server
    assert "4 workers vs 1:" in out
    assert _county_schemas() == before  # the benchmark drops its schema


def _county_schemas() -> set[str]:
    with psycopg.connect(PG_URL) as conn:
        rows = conn.execute(
            "SELECT schema_name FROM information_schema.schemata "
            "WHERE schema_name LIKE 'bench_county_%'"
        ).fetchall()
    return {row[0] for row in rows}


def test_a_commands_memory_is_its_own_not_the_benchmarks() -> None:
    # wait4 on a child of a large process reports the parent's size (exec carries
    # the high-water mark over); measured() starts commands from a small launcher.
    ballast = bytearray(300 * 2**20)
    for at in range(0, len(ballast), 4096):
        ballast[at] = 1
    small = measured([sys.executable, "-c", "pass"], os.environ)
    assert small.returncode == 0
    assert small.max_rss_mib < 100
    grows = "x = bytearray(200 * 2**20)\nfor i in range(0, len(x), 4096): x[i] = 1"
    large = measured([sys.executable, "-c", grows], os.environ)
    assert 200 < large.max_rss_mib < 300
    failed = measured([sys.executable, "-c", "import sys; sys.exit(3)"], os.environ)
    assert failed.returncode == 3
    del ballast
