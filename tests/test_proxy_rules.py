"""The proxy's header, path, redirect and cookie rules, one function at a time."""

from __future__ import annotations

from dr_notebook.sandbox.runtime.proxy import (
    clamp_service_worker_scope,
    error_page,
    forwarded_headers,
    response_headers,
    rewrite_cookie_path,
    rewrite_location,
    script_name,
    split_app_path,
    strip_credentials,
    strip_hop_by_hop,
    upstream_path,
)

PREFIX = "/custom_applications/abc"
UPSTREAM = {"127.0.0.1:8080", "localhost:8080"}


def names(headers: list[tuple[str, str]]) -> list[str]:
    return [n.lower() for n, _ in headers]


def test_hop_by_hop_headers_go_including_those_connection_names() -> None:
    headers = [
        ("Connection", "keep-alive, X-Private-Hop"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("Upgrade", "h2c"),
        ("TE", "trailers"),
        ("Proxy-Authorization", "Basic x"),
        ("X-Private-Hop", "1"),
        ("Content-Type", "text/plain"),
        ("Content-Length", "3"),
    ]
    assert names(strip_hop_by_hop(headers)) == ["content-type", "content-length"]


def test_the_sandbox_token_and_cookies_are_removed_and_the_apps_own_kept() -> None:
    headers = [
        ("Authorization", "Bearer sandbox-token"),
        ("Cookie", "_xsrf=x; theme=dark; username-127-0-0-1-8888=jupyter; app_session=s"),
        ("Accept", "*/*"),
    ]
    kept = strip_credentials(headers)
    assert kept == [("Cookie", "theme=dark; app_session=s"), ("Accept", "*/*")]
    assert strip_credentials([("authorization", "token jupyter-token")]) == []
    # The app's own Basic auth is not the sandbox's: it passes (positive control).
    assert strip_credentials([("Authorization", "Basic dTpw")]) == [("Authorization", "Basic dTpw")]
    assert strip_credentials([("Cookie", "_xsrf=1")]) == []


def test_forwarded_headers_append_the_client_and_the_user_cannot_be_claimed() -> None:
    headers = [
        ("X-Forwarded-For", "10.0.0.9"),
        ("X-Forwarded-Prefix", "/user/me/proxy/8765/"),
        ("X-User-Email", "boss@example.com"),
        ("Host", "127.0.0.1:8765"),
    ]
    out = dict(
        forwarded_headers(
            headers,
            client_host="127.0.0.1",
            scheme="http",
            host="127.0.0.1:8765",
            prefix=PREFIX,
            user_email=None,
        )
    )
    assert out["x-forwarded-for"] == "10.0.0.9, 127.0.0.1"
    assert out["x-forwarded-prefix"] == f"/user/me/proxy/8765{PREFIX}"  # both proxies' prefixes
    assert out["x-forwarded-proto"] == "http"
    assert out["x-forwarded-host"] == "127.0.0.1:8765"
    assert "X-User-Email" not in out and "x-user-email" not in out
    known = forwarded_headers(
        [], client_host=None, scheme="wss", host="h", prefix=PREFIX, user_email="me@example.com"
    )
    assert ("x-user-email", "me@example.com") in known
    assert ("x-forwarded-prefix", PREFIX) in known
    assert ("x-forwarded-proto", "https") in known


def test_a_proxy_in_front_keeps_its_proto_and_host() -> None:
    out = forwarded_headers(
        [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "hub.example.com")],
        client_host="127.0.0.1",
        scheme="http",
        host="127.0.0.1:8765",
        prefix=PREFIX,
        user_email=None,
    )
    assert [v for n, v in out if n.lower() == "x-forwarded-proto"] == ["https"]
    assert [v for n, v in out if n.lower() == "x-forwarded-host"] == ["hub.example.com"]


def test_path_modes() -> None:
    assert upstream_path("/static/a.js", "abc", root_path=True) == "/static/a.js"
    assert upstream_path("/static/a.js", "abc", root_path=False) == f"{PREFIX}/static/a.js"
    assert upstream_path("", "abc", root_path=True) == "/"
    assert script_name("abc", root_path=True) == ""
    assert script_name("abc", root_path=False) == PREFIX


def test_split_app_path() -> None:
    assert split_app_path("/custom_applications/abc/x/y") == ("abc", "/x/y")
    assert split_app_path("/custom_applications/abc") == ("abc", "")
    assert split_app_path("/custom_applications/abc/") == ("abc", "/")
    assert split_app_path("/custom_applications/") is None
    assert split_app_path("/api/v2/") is None


def test_locations_stay_under_the_prefix() -> None:
    def rewrite(location: str) -> str:
        return rewrite_location(location, PREFIX, "127.0.0.1:8765", UPSTREAM)

    assert rewrite("/login?next=/") == f"{PREFIX}/login?next=/"
    assert rewrite(f"{PREFIX}/page") == f"{PREFIX}/page"  # already under it
    assert rewrite("http://127.0.0.1:8080/x#top") == f"{PREFIX}/x#top"  # the app's own address
    assert rewrite("http://localhost:8080") == f"{PREFIX}/"
    assert rewrite("http://127.0.0.1:8765/x") == f"http://127.0.0.1:8765{PREFIX}/x"
    assert rewrite("https://example.com/login") == "https://example.com/login"
    assert rewrite("next") == "next"  # relative: the browser resolves it under the prefix
    assert rewrite(f"{PREFIX}x") == f"{PREFIX}{PREFIX}x"  # a sibling is not under it


def test_cookie_paths_stay_under_the_prefix() -> None:
    assert rewrite_cookie_path("s=1; Path=/; HttpOnly", PREFIX) == f"s=1; Path={PREFIX}/; HttpOnly"
    assert rewrite_cookie_path("s=1; path=/sub", PREFIX) == f"s=1; Path={PREFIX}/sub"
    assert rewrite_cookie_path(f"s=1; Path={PREFIX}/", PREFIX) == f"s=1; Path={PREFIX}/"
    assert rewrite_cookie_path("s=1; Secure", PREFIX) == "s=1; Secure"
    # A value that looks like an attribute is not one.
    assert rewrite_cookie_path("path=/x; Path=/", PREFIX) == f"path=/x; Path={PREFIX}/"


def test_service_worker_scopes_stay_under_the_prefix() -> None:
    for wide in (
        "/",
        "/custom_applications/",
        "/custom_applications/other/",
        f"{PREFIX}x/",
        f"{PREFIX}/../other/",
        f"{PREFIX}/%2e%2e/",
        "../../",
        "",
        "/api/v2/",
    ):
        assert clamp_service_worker_scope(wide, PREFIX) == f"{PREFIX}/", wide
    # positive control: the app's own prefix and paths below it pass
    for own in (f"{PREFIX}/", f"{PREFIX}/static/", PREFIX):
        assert clamp_service_worker_scope(own, PREFIX) == own
    out = response_headers([("Service-Worker-Allowed", "/")], PREFIX, "h:1", UPSTREAM)
    assert out == [("Service-Worker-Allowed", f"{PREFIX}/")]


def test_response_headers_rewrite_and_drop_hops_only() -> None:
    out = response_headers(
        [
            ("Location", "/next"),
            ("Set-Cookie", "a=1; Path=/"),
            ("Set-Cookie", "b=2; Path=/"),
            ("Connection", "close"),
            ("Content-Type", "text/html"),
            ("X-App", "kept"),
        ],
        PREFIX,
        "127.0.0.1:8765",
        UPSTREAM,
    )
    assert out == [
        ("Location", f"{PREFIX}/next"),
        ("Set-Cookie", f"a=1; Path={PREFIX}/"),
        ("Set-Cookie", f"b=2; Path={PREFIX}/"),
        ("Content-Type", "text/html"),
        ("X-App", "kept"),
    ]


def test_error_pages_escape_and_only_building_reloads() -> None:
    page = error_page("App <b>", "failed: <script>alert(1)</script>")
    assert "<script>" not in page and "&lt;script&gt;" in page and "refresh" not in page
    assert 'http-equiv="refresh" content="2"' in error_page("x", "building", reload_seconds=2)
