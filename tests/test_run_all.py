"""Run All stops at a failed cell: a request sent before the failure is aborted even when it
reaches the kernel after it (as Run All's later cells can), in a real kernel."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel


@pytest.fixture
def kernel() -> Iterator[Any]:
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert not manager.is_alive()


def request(client: Any, code: str) -> dict[str, Any]:
    """An execute request, dated now, not yet sent."""
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": True}  # fmt: skip
    return client.session.msg("execute_request", content)


def send(client: Any, msg: dict[str, Any]) -> dict[str, Any]:
    """Send ``msg``; its reply's content."""
    client.shell_channel.send(msg)
    while True:
        reply = client.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            return reply["content"]


def settle(client: Any) -> None:
    """Wait until the kernel runs new requests again: ipykernel itself aborts whatever arrives
    while it is still handling a failure, which would hide what the extension does (and, under
    load, make the control fail)."""
    for _ in range(1000):
        if send(client, request(client, "pass"))["status"] == "ok":
            return
    raise AssertionError("the kernel kept aborting new requests")


@pytest.mark.parametrize("loaded", [True, False], ids=["extension", "control-without"])
def test_a_request_sent_before_a_magic_failed_is_aborted(kernel: Any, loaded: bool) -> None:
    if loaded:
        assert send(kernel, request(kernel, "%load_ext dr_notebook"))["status"] == "ok"
    late = request(kernel, "ran_late = True")  # sent by Run All before the failure...
    failing = "%dr_new_app Flask --timeout 0" if loaded else "raise ValueError('fails')"
    assert send(kernel, request(kernel, failing))["status"] == "error"
    settle(kernel)
    reply = send(kernel, late)  # ...arriving after it
    check = request(kernel, "")
    check["content"]["user_expressions"] = {"ran": "'ran_late' in globals()"}
    after = send(kernel, check)  # sent after the failure: runs
    assert after["status"] == "ok"
    ran = after["user_expressions"]["ran"]["data"]["text/plain"]
    if loaded:
        assert reply["status"] == "aborted" and ran == "False"
    else:  # the kernel alone runs it: what the extension guards against
        assert reply["status"] == "ok" and ran == "True"
