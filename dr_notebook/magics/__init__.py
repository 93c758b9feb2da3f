"""The ``%dr_*`` IPython magics: thin faces over :class:`dr_notebook.Client`.

Load with ``%load_ext dr_notebook``; configure with ``%config DataRobotMagics.<name> = ...`` or
in ``ipython_config.py``. The magics parse arguments and call the client; errors a user can fix
are shown as one line (``short_errors``), bugs still raise with their traceback.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import TryNext
from IPython.core.magic import magics_class

from dr_notebook.magics import _run_all as run_all
from dr_notebook.magics.applications import ApplicationMagics
from dr_notebook.magics.connection import ConnectionMagics
from dr_notebook.magics.templates import TemplateMagics

__all__ = ["DataRobotMagics", "load_ipython_extension", "unload_ipython_extension"]

_COMPLETED_COMMANDS = ("%dr_template", "%dr_new_app", "%dr_app")
_FAMILIES = (TemplateMagics, ApplicationMagics, ConnectionMagics)


@magics_class
class DataRobotMagics(TemplateMagics, ApplicationMagics, ConnectionMagics):
    """``%dr_templates``, ``%dr_template``, ``%dr_new_app``, ``%dr_apps``, ``%dr_app``,
    ``%dr_gallery``, ``%dr_connect``, ``%dr_check``."""


# Each family's @magics_class took its own magics; the one registered class offers them all.
DataRobotMagics.magics = {
    kind: {name: method for family in _FAMILIES for name, method in family.magics[kind].items()}
    for kind in ("line", "cell")
}


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics and the completion of template names and ids; in a kernel, make
    Run All stop at a failed cell (see ``_run_all``)."""
    unload_ipython_extension(ipython)  # %reload_ext: replace, don't stack
    magics = DataRobotMagics(ipython)
    ipython.register_magics(magics)
    run_all.install(ipython)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    if not getattr(ipython, "_dr_notebook_completer", False):

        def complete(_self: Any, event: Any) -> list[str]:
            current = ipython.magics_manager.registry.get("DataRobotMagics")
            if current is None:
                raise TryNext
            return current.complete(event)

        for command in _COMPLETED_COMMANDS:
            ipython.set_hook("complete_command", complete, str_key=command)
        ipython._dr_notebook_completer = True
    from dr_notebook.models import Template

    ipython.display_formatter.formatters["text/html"].for_type(Template, magics.template_card)
    import pandas as pd

    from dr_notebook.magics._terminal import plain_text

    ipython.display_formatter.formatters["text/plain"].for_type(pd.DataFrame, plain_text)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics (completion stops answering too)."""
    magics = ipython.magics_manager.registry.pop("DataRobotMagics", None)
    if magics is None:
        return
    for kind, names in magics.magics.items():
        table = ipython.magics_manager.magics[kind]
        for name in names:
            table.pop(name, None)
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)
    from dr_notebook.models import Template

    ipython.display_formatter.formatters["text/html"].pop(Template, None)
    import pandas as pd

    ipython.display_formatter.formatters["text/plain"].pop(pd.DataFrame, None)
    magics.drop_client()
