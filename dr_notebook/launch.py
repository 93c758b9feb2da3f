"""``client.launch``: from a template to a running application, as one call and one event stream."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dr_notebook.enums import LaunchStage
from dr_notebook.errors import DataRobotError, InvalidArgumentError, NameInUseError
from dr_notebook.models import Application, AsyncStatus, Template
from dr_notebook.resources._jobs import Deadline, check_wait
from dr_notebook.resources.applications import LaunchCallback, LaunchSteps
from dr_notebook.resources.payloads import check_text

if TYPE_CHECKING:
    from dr_notebook.client import Client

__all__ = ["launch"]


def launch(
    client: Client,
    template: str | Template,
    *,
    name: str | None,
    resources: Mapping[str, Any] | None,
    wait: bool,
    timeout: float,
    on_status: LaunchCallback | None,
    progress: bool,
) -> Application:
    """See :meth:`dr_notebook.client.Client.launch`."""
    deadline = Deadline(check_wait(timeout))
    chosen = client.templates.resolve(template)
    app_name = check_text("name", name, required=True) if name is not None else chosen.name
    if not app_name or not app_name.strip():
        raise InvalidArgumentError("The template has no name to give the application: pass name=.")
    if client.applications.name_in_use(app_name):
        raise NameInUseError(
            f"An application named {app_name!r} already exists; pass another name "
            f"(%dr_new_app ... --name NEW, or name='...'), or delete it first "
            f"(%dr_app {app_name!r} --delete)."
        )
    steps = LaunchSteps(on_status, deadline, bar=progress)
    try:
        steps.emit(LaunchStage.SOURCE)

        def source_status(status: AsyncStatus) -> None:
            steps.emit(LaunchStage.SOURCE, status.status)

        remaining = deadline.remaining
        if remaining <= 0:
            raise DataRobotError("No time left to create the source: pass a longer timeout.")
        steps.source = client.app_sources.create_from_template(
            chosen.id, wait=True, timeout=remaining, on_status=source_status, progress=False
        )
        return client.applications.create_in(
            steps, steps.source, name=app_name, resources=resources, wait=wait
        )
    finally:
        steps.close()
