"""Where "Open application" links point when the browser cannot reach the sandbox directly.

A JupyterLab on another machine (JupyterHub, a container, Codespaces) can still open a sandbox
running beside the kernel through jupyter-server-proxy: ``<jupyter base>/proxy/<port>/...``.
The link base replaces the scheme and host of ``applicationUrl`` for links only; the
application's ``application_url`` stays what the API says.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from dr_notebook.render import safe_url

LINK_BASE_ENV = "DR_NOTEBOOK_APP_LINK_BASE"
DIRECT = "direct"  # %config DataRobotMagics.app_link_base = "direct": never through a proxy
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_APP_PATH = "/custom_applications/"


def valid_link_base(base: str) -> str | None:
    """``base`` without its trailing slash if it is an http(s) URL or an absolute path, else None.

    A path (``/user/me/proxy/8765``) resolves against JupyterLab's own address in the browser;
    ``//host`` (another site) and other schemes are refused.
    """
    base = base.strip().rstrip("/")
    if not base:
        return None
    if base.startswith("/"):
        return None if base.startswith("//") or "\\" in base else base
    parts = urlsplit(base)
    if parts.scheme in ("http", "https") and parts.hostname and not parts.query:
        return base
    return None


def app_link(application_url: str | None, base: str | None) -> str | None:
    """The URL a link to the application should open (``application_url`` unless a base applies).

    With a valid ``base``, an application URL whose path is ``/custom_applications/...`` becomes
    ``<base>/custom_applications/...`` (query kept).
    """
    if not application_url:
        return None
    valid = valid_link_base(base) if base else None
    parts = urlsplit(application_url)
    if valid is None or not parts.path.startswith(_APP_PATH):
        return application_url
    return valid + parts.path + (f"?{parts.query}" if parts.query else "")


_configured = ""  # %config DataRobotMagics.app_link_base; "" detects


def set_link_base(base: str) -> None:
    """Use ``base`` for every application link of this kernel ("" detects, "direct": none)."""
    global _configured
    _configured = base.strip()


def link_base_for(application_url: str | None) -> str | None:
    """The link base for an application at ``application_url``: configured, else detected."""
    if _configured == DIRECT:
        return None
    if _configured:
        return valid_link_base(_configured)
    return detect_link_base(application_url)


def link_href(application_url: str | None) -> str | None:
    """What an "Open application" link may point to: the (possibly proxied) URL, if safe.

    Absolute http(s) URLs pass the same check as every other link; a path is accepted only when
    it came from a valid link base.
    """
    href = app_link(application_url, link_base_for(application_url))
    if href is None:
        return None
    if href != application_url and valid_link_base(href) is not None and href.startswith("/"):
        return href
    return safe_url(href, {"http", "https"})


#: What cannot work through jupyter-server-proxy, and why, in one line (the card says it
#: beside a link that goes that way).
THROUGH_JUPYTER = (
    "Through Jupyter's proxy, Gradio apps do not load: Gradio writes its root_path into its "
    "page and ignores X-Forwarded-Prefix, so the page asks Jupyter's root for its API; open "
    "those at their url."
)


def through_link_base(application_url: str | None) -> bool:
    """Whether links to the application at ``application_url`` go through a link base (a
    Jupyter server's proxy) rather than to the URL itself."""
    href = link_href(application_url)
    return href is not None and href != application_url


def detect_link_base(endpoint: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The link base the kernel's environment implies for a sandbox at ``endpoint``, or None.

    ``DR_NOTEBOOK_APP_LINK_BASE`` wins (``make demo`` sets it). Otherwise, when the notebook runs
    in a JupyterHub single-user server (``JUPYTERHUB_SERVICE_PREFIX``) with jupyter-server-proxy
    installed and the endpoint is a loopback sandbox, links go through
    ``<prefix>proxy/<sandbox port>``. A DataRobot endpoint never gets a base.
    """
    environ = os.environ if environ is None else environ
    explicit = environ.get(LINK_BASE_ENV)
    if explicit:
        return valid_link_base(explicit)
    prefix = environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if not prefix or not endpoint or importlib.util.find_spec("jupyter_server_proxy") is None:
        return None
    parts = urlsplit(endpoint)
    if parts.hostname not in _LOOPBACK or parts.port is None:
        return None
    return valid_link_base(f"/{prefix.strip('/')}/proxy/{parts.port}")
