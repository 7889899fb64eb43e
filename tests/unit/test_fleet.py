"""The simulated fleet backs off as ingest asks and reports refusals as a summary."""

from __future__ import annotations

import httpx

from deploy.fleet import UploadStats, retry_after_s


def test_retry_after_is_honoured_with_a_default() -> None:
    assert retry_after_s(httpx.Response(429, headers={"Retry-After": "7"})) == 7.0
    assert retry_after_s(httpx.Response(503)) == 5.0
    assert retry_after_s(httpx.Response(429, headers={"Retry-After": "soon"})) == 5.0


def test_summary_counts_refusals_by_status() -> None:
    stats = UploadStats(accepted=1200, refused=3)
    stats.refused_by_status.update([429, 429, 503])
    assert stats.summary() == "1200 calls accepted, 3 uploads refused (2 x 429, 1 x 503)"
    assert UploadStats().summary() == "0 calls accepted, 0 uploads refused (none)"
