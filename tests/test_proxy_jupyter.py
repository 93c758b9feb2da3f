"""An app through jupyter-server-proxy and then the sandbox's proxy: a remote JupyterLab's path."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psutil
import pytest
from websockets.sync.client import connect

from dr_notebook.sandbox.testing.proxy import Jupyter, Served, jupyter_server, serve

pytest.importorskip("jupyter_server_proxy")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Jupyter, Served]]:
    folder = tmp_path_factory.mktemp("jsp")
    with (
        serve("upstream", socket_path=folder / "app.sock") as app,
        serve("front", env={"DR_PROXY_UPSTREAM": app.upstream_spec}) as front,
        jupyter_server(folder) as jupyter,
    ):
        yield jupyter, front
    assert jupyter.process.returncode is not None
    assert not psutil.pid_exists(jupyter.process.pid)


def test_links_redirects_and_websockets_lead_back_through_both_proxies(
    chain: tuple[Jupyter, Served],
) -> None:
    jupyter, front = chain
    auth = {"Authorization": f"token {jupyter.token}"}
    outer = f"{jupyter.proxied(front.port or 0)}/custom_applications/abc"
    base = jupyter.origin + outer
    with httpx.Client(headers=auth, trust_env=False, timeout=20) as client:
        echoed = client.get(f"{base}/echo").json()
        link = client.get(f"{base}/links").text.split('href="')[1].split('"')[0]
        followed = client.get(jupyter.origin + link)
        redirect = client.get(f"{base}/redirect", params={"to": "/echo"})
        slash = client.get(base)
    assert echoed["path"] == "/echo"
    assert echoed["headers"]["x-forwarded-prefix"] == outer
    assert "authorization" not in echoed["headers"]  # the Jupyter token stays behind
    assert jupyter.token not in str(echoed)
    assert link == f"{outer}/echo" and followed.status_code == 200
    assert redirect.headers["location"] == f"{outer}/echo"
    assert slash.headers["location"] == f"{outer}/"
    with connect(base.replace("http://", "ws://") + "/ws", additional_headers=auth) as socket:
        socket.send("through both")
        assert socket.recv(10) == "through both"
