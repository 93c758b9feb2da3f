"""Runtime behaviour: latency that does not block, injected faults, stats and the control API."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests


@pytest.fixture(scope="module")
def sb():
    from dr_notebook.sandbox.testing import start_sandbox

    with start_sandbox(demo=False, generate=5, seed=1234) as server:
        yield server


@pytest.fixture
def fresh(sb):
    sb.reset_stats()
    yield sb
    sb.configure(latency_ms=0, fault_rate=0.0, fault_kind="mixed", retry_after_s=0)


def timed_get(url: str, headers: dict[str, str]) -> tuple[int, float]:
    start = time.monotonic()
    response = requests.get(url, headers=headers, timeout=30)
    return response.status_code, time.monotonic() - start


@pytest.mark.slow
def test_latency_delays_each_request_without_blocking_others(fresh):
    fresh.configure(latency_ms=500)
    url, headers = f"{fresh.endpoint}/customTemplates/", fresh.auth_headers()
    start = time.monotonic()
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: timed_get(url, headers), range(10)))
    wall = time.monotonic() - start
    assert all(status == 200 for status, _ in results)
    assert all(elapsed >= 0.5 for _, elapsed in results)
    # Delays served one after another would take the sum of them; overlapping, far less.
    assert wall < sum(elapsed for _, elapsed in results) / 2


@pytest.mark.slow
def test_control_api_is_not_delayed_or_faulted(fresh):
    fresh.configure(latency_ms=2000, fault_rate=1.0)
    start = time.monotonic()
    assert fresh.stats()["total"] == 0
    assert time.monotonic() - start < 2.0  # a delayed request takes 2 s at the least


@pytest.mark.parametrize("kind", ["503", "429"])
def test_full_fault_rate_answers_every_api_request_with_that_fault(fresh, kind):
    fresh.configure(fault_rate=1.0, fault_kind=kind, retry_after_s=1)
    for path in ["version/", "customTemplates/", "customApplicationSources/fromCustomTemplate/"]:
        response = fresh.api("GET" if "from" not in path else "POST", path)
        assert response.status_code == int(kind)
        assert response.json()["message"] and response.headers["X-DataRobot-Request-ID"]
        if kind == "429":
            assert response.headers["Retry-After"] == "1"
        else:
            assert "Retry-After" not in response.headers
    counts = fresh.stats()["counts"]
    assert counts["GET customTemplates/"] == 1
    assert counts["POST customApplicationSources/fromCustomTemplate/"] == 1


def test_partial_mixed_faults_hit_about_that_fraction(fresh):
    fresh.configure(fault_rate=0.4, fault_kind="mixed")
    statuses = [fresh.api("GET", "version/").status_code for _ in range(150)]
    faults = [s for s in statuses if s != 200]
    assert set(statuses) == {200, 429, 503}
    assert 0.25 < len(faults) / len(statuses) < 0.55
    assert fresh.stats()["total"] == 150
    assert sorted({r["status"] for r in fresh.stats()["requests"]}) == [200, 429, 503]


def test_faults_come_before_auth(fresh):
    fresh.configure(fault_rate=1.0, fault_kind="503")
    assert fresh.api("GET", "version/", role=None).status_code == 503


def test_stats_count_by_method_and_relative_path_including_errors(fresh):
    template_id = fresh.api("GET", "customTemplates/").json()["data"][0]["id"]
    fresh.api("GET", "customTemplates/")
    fresh.api("GET", "customTemplates//")
    fresh.api("GET", f"customTemplates/{template_id}")
    fresh.api("GET", "customTemplates/", role=None)
    fresh.api("DELETE", f"customTemplates/{'0' * 24}/")
    stats = fresh.stats()
    # the first listing (to find an id) counts too
    assert stats["counts"] == {
        "GET customTemplates/": 4,
        f"GET customTemplates/{template_id}/": 1,
        f"DELETE customTemplates/{'0' * 24}/": 1,
    }
    assert stats["total"] == 6
    seen = [{k: r[k] for k in ("method", "path", "status")} for r in stats["requests"]]
    assert {"method": "GET", "path": "customTemplates/", "status": 401} in seen
    assert seen[-1] == {
        "method": "DELETE", "path": f"customTemplates/{'0' * 24}/", "status": 404,
    }  # fmt: skip
    assert stats["requests"][-1]["user_agent"].startswith("python-requests/")
    fresh.reset_stats()
    assert fresh.stats() == {"total": 0, "requests": [], "counts": {}}


@pytest.mark.parametrize(
    ("changes", "bad"),
    [
        ({"latency_ms": -1}, "latency_ms"),
        ({"latency_ms": "10"}, "latency_ms"),
        ({"fault_rate": 1.5}, "fault_rate"),
        ({"fault_kind": "500"}, "fault_kind"),
        ({"async_sources": "yes"}, "async_sources"),
        ({"async_outcome": "DONE"}, "async_outcome"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_config_rejects_bad_values_and_changes_nothing(fresh, changes, bad):
    before = fresh.config()
    response = requests.put(
        f"{fresh.base_url}/_sandbox/config", json={"latency_ms": 5, **changes},
        headers=fresh.auth_headers(), timeout=10,
    )  # fmt: skip
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [bad]
    assert fresh.config() == before


def test_config_round_trip(fresh):
    config = fresh.configure(latency_ms=7, async_outcome="EXPIRED")
    assert config["latency_ms"] == 7 and config["async_outcome"] == "EXPIRED"
    assert fresh.config() == config
    fresh.configure(async_outcome="COMPLETED")
    with pytest.raises(TypeError, match="unknown sandbox settings"):
        fresh.configure(speed=3)


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("viewer", 403), ("user", 403)])
def test_control_api_needs_an_admin_token(sb, role, status):
    headers = sb.auth_headers(role) if role else {}
    for method, path in [("GET", "stats"), ("POST", "stats/reset"), ("PUT", "config")]:
        response = requests.request(method, f"{sb.base_url}/_sandbox/{path}", headers=headers,
                                    json={}, timeout=10)  # fmt: skip
        assert response.status_code == status
        assert response.json()["message"]


def test_session_sandbox_fixture_serves_the_demo_catalogue(sandbox, sandbox_settings):
    assert sandbox.api("GET", "customTemplates/", role="viewer").json()["totalCount"] >= 30
    assert sandbox.config()["async_sources"] is False and sandbox.config()["latency_ms"] == 0
    configured = sandbox_settings(latency_ms=1, fault_rate=0.0)
    assert configured is sandbox and sandbox.config()["latency_ms"] == 1


@pytest.mark.slow
def test_keep_alive_requests_are_not_held_back_by_nagle(fresh):
    # With Nagle's algorithm on, each small response waits for a delayed ACK (~40 ms): 100
    # requests would take 4 s at the least.
    start = time.monotonic()
    for _ in range(100):
        assert fresh.api("GET", "version/").status_code == 200
    assert time.monotonic() - start < 100 * 0.040
