"""The benchmark runs end to end (a smoke run; the figures live in docs/performance.md)."""

from __future__ import annotations

import pytest

from bench.publish import main


def test_publish_benchmark_reports_both_ratios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ratios = main(["--quick"])
    assert set(ratios) == {"single_ratio", "batch_ratio"}
    assert all(r > 0 for r in ratios.values())
    out = capsys.readouterr().out
    assert "single publish:" in out
    assert "batch of 100:" in out
