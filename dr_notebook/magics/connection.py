"""The connection magic: ``%dr_connect`` (the token typed in, kept for the session)."""

from __future__ import annotations

import getpass
import os

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from dr_notebook.config import Secret
from dr_notebook.magics._base import MagicsBase
from dr_notebook.magics._options import unquote, user_errors


@magics_class
class ConnectionMagics(MagicsBase):
    """``%dr_connect``."""

    @line_magic
    @magic_arguments()
    @argument("endpoint", nargs="?", help="API endpoint; default: the configured one.")
    @user_errors
    def dr_connect(self, line: str = "") -> None:
        """Ask for the API token (hidden), check it with one request, keep it for this session."""
        args = parse_argstring(self.dr_connect, line)
        endpoint = unquote(args.endpoint) or self.endpoint or os.environ.get("DATAROBOT_ENDPOINT")
        if not endpoint:
            raise UsageError(
                "%dr_connect needs an endpoint, e.g. %dr_connect https://app.datarobot.com/api/v2"
            )
        # Wrapped at once: a verbose traceback prints the locals of every frame.
        token = Secret(getpass.getpass("DataRobot API token: ").strip())
        if not token:
            raise UsageError("No token given; nothing changed.")
        from dr_notebook.client import Client

        client = Client(
            endpoint=endpoint,
            token=token,
            request_timeout=self.request_timeout,
            max_workers=self.max_workers,
        )
        del token
        try:
            info = client.check_connection()
        except BaseException:
            client.close()
            raise
        self.drop_client()
        self._client = client
        self._connected = True
        count = info.get("template_count")
        seen = "" if count is None else f" ({count} templates)"
        print(f"Connected to {client.endpoint}{seen}; the token is kept for this session only.")
