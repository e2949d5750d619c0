"""The benchmarks run end to end (smoke runs; the figures live in docs/performance.md)."""

from __future__ import annotations

import pytest

from bench import deliver, publish


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
    assert set(ratios) == {"vs_apprise", "vs_bare"}
    assert ratios["vs_bare"] > 0
    out = capsys.readouterr().out
    assert "syndicate / apprise:" in out
