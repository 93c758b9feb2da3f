"""``Client``: custom templates and application sources, over the HTTP layer.

Listing fetches page one, reads ``totalCount`` and fetches the remaining pages concurrently;
creation validates its input before anything is sent; asynchronous jobs are polled with back-off.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from dr_notebook.config import Secret, resolve_settings
from dr_notebook.errors import (
    AmbiguousNameError,
    AsyncOperationError,
    AsyncTimeoutError,
    DataRobotError,
    InvalidArgumentError,
    NotFoundError,
)
from dr_notebook.http import Transport, quote_id
from dr_notebook.models import (
    ApplicationSource,
    AsyncStatus,
    DefaultEnvironment,
    Template,
    TemplateFile,
    TemplateMetadata,
)
from dr_notebook.pagination import Paginator, progress_bar
from dr_notebook.payloads import (
    FORM_NAMES,
    METADATA_NAMES,
    RESOURCE_BUNDLE_IDS,
    UPDATABLE,
    FileContent,
    check_id,
    check_metadata,
    check_text,
    content_type,
    environment_to_api,
    metadata_to_api,
    read_content,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "RESOURCE_BUNDLE_IDS",
    "SOURCE_ORDER_BY",
    "TEMPLATE_ORDER_BY",
    "AppSources",
    "Client",
    "FileContent",
    "Templates",
]

log = logging.getLogger("dr_notebook.client")

TEMPLATE_ORDER_BY = [
    "name",
    "-name",
    "createdAt",
    "-createdAt",
    "templateType",
    "-templateType",
    "templateSubType",
    "-templateSubType",
]
SOURCE_ORDER_BY = ["name", "-name", "createdAt", "-createdAt", "updatedAt", "-updatedAt"]
_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")

StatusCallback = Callable[[AsyncStatus], Any]


class Templates:
    """``client.templates``: list, read, create, update and delete custom templates."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._pages = Paginator(client, "customTemplates/", Template.from_api, "Listing templates")

    def __repr__(self) -> str:
        return f"<Templates of {self._client.endpoint}>"

    @staticmethod
    def _filters(
        search: str | None = None,
        tag: str | None = None,
        template_type: str | None = None,
        template_sub_type: str | None = None,
        publisher: str | None = None,
        category: str | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> tuple[dict[str, str], int | None]:
        given = {
            "search": search,
            "tag": tag,
            "templateType": template_type,
            "templateSubType": template_sub_type,
            "publisher": publisher,
            "category": category,
            "orderBy": order_by,
        }
        params: dict[str, str] = {}
        for key, value in given.items():
            if value is None:
                continue
            if not isinstance(value, str):
                raise InvalidArgumentError(f"{key} must be a string, not {type(value).__name__}.")
            params[key] = value
        if order_by is not None and order_by not in TEMPLATE_ORDER_BY:
            raise InvalidArgumentError(
                f"order_by={order_by!r} is not allowed; use one of: {', '.join(TEMPLATE_ORDER_BY)}."
            )
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise InvalidArgumentError(f"limit must be a whole number >= 0 or None, not {limit!r}.")
        return params, limit

    def list(
        self,
        search: str | None = None,
        tag: str | None = None,
        template_type: str | None = None,
        template_sub_type: str | None = None,
        publisher: str | None = None,
        category: str | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[Template]:
        """Every template matching the filters (at most ``limit``), in the server's order.

        ``order_by`` is one of ``name``, ``createdAt``, ``templateType``, ``templateSubType``,
        optionally prefixed with ``-``.
        """
        params, limit = self._filters(
            search, tag, template_type, template_sub_type, publisher, category, order_by, limit
        )
        return self._pages.all(params, limit)

    def iter(
        self,
        search: str | None = None,
        tag: str | None = None,
        template_type: str | None = None,
        template_sub_type: str | None = None,
        publisher: str | None = None,
        category: str | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> Iterator[Template]:
        """Like :meth:`list`, lazily: one page is fetched when the previous one is used up."""
        params, limit = self._filters(
            search, tag, template_type, template_sub_type, publisher, category, order_by, limit
        )
        return self._pages.iter(params, limit)

    def frame(
        self,
        search: str | None = None,
        tag: str | None = None,
        template_type: str | None = None,
        template_sub_type: str | None = None,
        publisher: str | None = None,
        category: str | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """:meth:`list` as a pandas DataFrame, one row per template (see ``frames``)."""
        from dr_notebook.frames import templates_frame

        return templates_frame(
            self.list(
                search, tag, template_type, template_sub_type, publisher, category, order_by, limit
            )
        )

    def get(self, template_id: str) -> Template:
        """One template by id."""
        template_id = check_id("template_id", template_id)
        body = self._client._transport.get_json(f"customTemplates/{quote_id(template_id)}/")
        return Template.from_api(body)

    def resolve(self, id_or_name: str | Template) -> Template:
        """The template with this id, else the one with exactly this name (case-insensitive).

        Raises ``NotFoundError`` when none matches, ``AmbiguousNameError`` when several do.
        """
        if isinstance(id_or_name, Template):
            return id_or_name
        text = check_id("id_or_name", id_or_name)
        if _OBJECT_ID.match(text):
            try:
                return self.get(text)
            except NotFoundError:
                pass
        candidates = self.list(search=text)
        wanted = text.casefold()
        exact = [t for t in candidates if t.name.strip().casefold() == wanted]
        if len(exact) == 1:
            return exact[0]
        if len(exact) > 1:
            ids = ", ".join(t.id for t in exact[:5])
            raise AmbiguousNameError(
                f"{len(exact)} templates are named {text!r} ({ids}); use the id instead.",
                candidates=exact,
            )
        hint = ""
        if candidates:
            # Names containing the text first, then the most similar ones.
            ranked = sorted(
                candidates,
                key=lambda t: (
                    wanted not in t.name.casefold(),
                    -difflib.SequenceMatcher(None, wanted, t.name.casefold()).ratio(),
                ),
            )
            hint = "; did you mean " + " or ".join(repr(t.name) for t in ranked[:3]) + "?"
        raise NotFoundError(f"No template has the id or name {text!r}{hint}")

    def names(self) -> list[tuple[str, str]]:
        """``(id, name)`` of every template, for completion."""
        return [(t.id, t.name) for t in self.list()]

    def _form(self, values: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        """Validated multipart fields (``files=`` form of requests) for create and update."""
        form: dict[str, Any] = {}
        for snake, api_name in FORM_NAMES.items():
            if snake not in values:
                continue
            required = creating and snake in {
                "name",
                "description",
                "template_type",
                "template_sub_type",
            }
            value = check_text(snake, values[snake], required=required)
            if value is not None:
                form[api_name] = (None, value)
        if creating:
            for snake in ("name", "description", "template_type", "template_sub_type"):
                check_text(snake, values.get(snake), required=True)
        bundle = values.get("default_resource_bundle_id")
        if bundle is not None and bundle not in RESOURCE_BUNDLE_IDS:
            raise InvalidArgumentError(
                f"default_resource_bundle_id={bundle!r} is not allowed; use one of: "
                f"{', '.join(RESOURCE_BUNDLE_IDS)}."
            )
        if creating or values.get("default_environment") is not None:
            env = environment_to_api(values.get("default_environment"))
            form["defaultEnvironment"] = (None, json.dumps(env))
        enabled = values.get("enabled")
        if enabled is not None:
            if not isinstance(enabled, bool):
                raise InvalidArgumentError(f"enabled must be True or False, not {enabled!r}.")
            form["enabled"] = (None, "true" if enabled else "false")
        return form

    def create(
        self,
        name: str,
        description: str,
        template_type: str,
        template_sub_type: str,
        default_environment: DefaultEnvironment | Mapping[str, str] | tuple[str, str],
        file: FileContent,
        *,
        enabled: bool | None = None,
        default_resource_bundle_id: str | None = None,
        readme: str | os.PathLike | None = None,
        tags: Iterable[str] | None = None,
        resource_bundle_ids: Iterable[str] | None = None,
        class_labels: Iterable[str] | None = None,
        template_metadata: TemplateMetadata | Mapping[str, Any] | None = None,
        publisher: str | None = None,
        category: str | None = None,
        filename: str | None = None,
    ) -> Template:
        """Publish a new template and return it as the server stores it.

        ``file`` is a path to a file, a folder (zipped on the fly, ``.git`` and caches left out)
        or the content as bytes. With a folder and no ``readme``, its ``README.md`` is used.
        Everything is checked before anything is sent.
        """
        values = {
            "name": name,
            "description": description,
            "template_type": template_type,
            "template_sub_type": template_sub_type,
            "default_environment": default_environment,
            "enabled": enabled,
            "default_resource_bundle_id": default_resource_bundle_id,
            "publisher": publisher,
            "category": category,
        }
        form = self._form(values, creating=True)
        upload_name, content, folder = read_content(file, filename)
        meta = metadata_to_api(template_metadata) if template_metadata is not None else {}
        extra = {
            "readme": readme,
            "tags": tags,
            "resource_bundle_ids": resource_bundle_ids,
            "class_labels": class_labels,
        }
        for snake, value in extra.items():
            if value is not None:
                meta[METADATA_NAMES[snake]] = value
        if meta.get("readme") is None and folder is not None:
            readme_path = next(
                (
                    folder / n
                    for n in ("README.md", "readme.md", "README.MD")
                    if (folder / n).is_file()
                ),
                None,
            )
            if readme_path is not None:
                meta["readme"] = readme_path.read_text(encoding="utf-8", errors="replace")
        if meta:
            form["templateMetadata"] = (None, json.dumps(check_metadata(meta)))
        form["file"] = (upload_name, content, content_type(content))

        response = self._client._transport.request(
            "POST", "customTemplates/", files=form, upload=True
        )
        template_id = None
        try:
            body = response.json()
            if isinstance(body, Mapping):
                template_id = body.get("customTemplateId") or body.get("id")
        except ValueError:
            body = None
        if not template_id and response.headers.get("Location"):
            template_id = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        if not template_id:
            raise DataRobotError(
                "The server created the template but sent no customTemplateId or Location; "
                "find it with client.templates.list(search=...)."
            )
        log.info("Created template %s (%s)", template_id, name)
        return self.get(str(template_id))

    def update(self, template_id: str | Template, **changes: Any) -> Template:
        """Change some fields of a template and return it as the server now has it.

        Takes the keyword arguments of :meth:`create`; metadata fields (``readme``, ``tags``,
        ...) are merged into the template's current metadata.
        """
        template_id = check_id("template_id", template_id)
        unknown = sorted(set(changes) - UPDATABLE)
        if unknown:
            raise InvalidArgumentError(
                f"update() got unknown fields {unknown}; allowed: {', '.join(sorted(UPDATABLE))}."
            )
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            raise InvalidArgumentError(
                "update() needs at least one field to change, e.g. name='...'."
            )
        form = self._form(changes, creating=False)
        meta_changes = {k: changes[k] for k in METADATA_NAMES if k in changes}
        if "template_metadata" in changes or meta_changes:
            if "template_metadata" in changes:
                meta = metadata_to_api(changes["template_metadata"])
            else:
                meta = metadata_to_api(self.get(template_id).metadata)
            for snake, value in meta_changes.items():
                meta[METADATA_NAMES[snake]] = value
            form["templateMetadata"] = (None, json.dumps(check_metadata(meta)))
        if "file" in changes:
            upload_name, content, _ = read_content(changes["file"], changes.get("filename"))
            form["file"] = (upload_name, content, content_type(content))
        body = self._client._transport.json(
            self._client._transport.request(
                "PATCH",
                f"customTemplates/{quote_id(template_id)}/",
                files=form,
                upload="file" in form,
            )
        )
        if isinstance(body, Mapping) and body.get("id"):
            return Template.from_api(body)
        return self.get(template_id)

    def delete(self, template_id: str | Template) -> None:
        """Delete a template."""
        template_id = check_id("template_id", template_id)
        try:
            self._client._transport.request("DELETE", f"customTemplates/{quote_id(template_id)}/")
        except NotFoundError as err:
            # A retried DELETE whose first attempt went through answers 404: that is success.
            if not getattr(err, "attempts", 1) > 1:
                raise

    def file(self, template_id: str | Template, file_id: str | TemplateFile) -> TemplateFile:
        """One file of a template, with its ``content``."""
        template_id = check_id("template_id", template_id)
        if isinstance(file_id, TemplateFile):
            file_id = file_id.id
        file_id = check_id("file_id", file_id)
        body = self._client._transport.get_json(
            f"customTemplates/{quote_id(template_id)}/files/{quote_id(file_id)}/"
        )
        return TemplateFile.from_api(body)


class AppSources:
    """``client.app_sources``: custom application sources, created from templates."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._pages = Paginator(
            client, "customApplicationSources/", ApplicationSource.from_api, "Listing sources"
        )

    def __repr__(self) -> str:
        return f"<AppSources of {self._client.endpoint}>"

    def get(self, source_id: str) -> ApplicationSource:
        """One application source by id."""
        source_id = check_id("source_id", source_id)
        body = self._client._transport.get_json(f"customApplicationSources/{quote_id(source_id)}/")
        return ApplicationSource.from_api(body)

    def list(
        self, name: str | None = None, order_by: str | None = None, limit: int | None = None
    ) -> list[ApplicationSource]:
        """Every application source the token can see (optionally filtered by name)."""
        params: dict[str, str] = {}
        if name is not None:
            params["name"] = check_text("name", name, required=False) or ""
        if order_by is not None:
            if order_by not in SOURCE_ORDER_BY:
                raise InvalidArgumentError(
                    f"order_by={order_by!r} is not allowed; "
                    f"use one of: {', '.join(SOURCE_ORDER_BY)}."
                )
            params["orderBy"] = order_by
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise InvalidArgumentError(f"limit must be a whole number >= 0 or None, not {limit!r}.")
        return self._pages.all(params, limit)

    def create_from_template(
        self,
        template_id: str | Template,
        wait: bool = True,
        timeout: float = 600,
        on_status: StatusCallback | None = None,
    ) -> ApplicationSource | AsyncStatus:
        """Create an application source from a template.

        A server that answers at once gives the source. One that starts a job (202) is polled
        with back-off (0.5 s up to 5 s) until the source exists, calling ``on_status`` with each
        :class:`AsyncStatus` seen. ``wait=False`` returns the job's first status instead; pass it
        to :meth:`wait` later. The request is sent once, never retried.
        """
        template_id = check_id("template_id", template_id)
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise InvalidArgumentError(
                f"timeout must be a positive number of seconds, not {timeout!r}."
            )
        transport = self._client._transport
        response = transport.request(
            "POST",
            "customApplicationSources/fromCustomTemplate/",
            json={"customTemplateId": template_id},
        )
        if response.status_code != 202:
            return ApplicationSource.from_api(transport.json(response))
        location = response.headers.get("Location")
        if not location:
            raise DataRobotError(
                "The server accepted the request (202) but sent no Location to follow; look for "
                "the new source with client.app_sources.list()."
            )
        if not wait:
            status = self._poll(location)
            if on_status is not None:
                on_status(status)
            return status
        return self.wait(
            location, timeout=timeout, on_status=on_status, _what=f"from template {template_id}"
        )

    def _poll(self, location: str) -> AsyncStatus:
        transport = self._client._transport
        response = transport.request("GET", location, ok=(303,))
        if response.status_code == 303:
            target = response.headers.get("Location")
            if not target:
                raise DataRobotError("The job finished (303) but the server sent no Location.")
            return AsyncStatus(status_id=_status_id(location), status="COMPLETED", location=target)
        status = AsyncStatus.from_api(transport.json(response))
        if not status.status_id:
            status.status_id = _status_id(location)
        if status.completed:
            status.location = response.headers.get("Location") or None
            if not status.location:
                # Polling on would only wait for the timeout: the result has no address.
                raise DataRobotError(
                    f"The job {status.status_id} finished (COMPLETED) but the server sent no "
                    "Location for the new source; look for it with client.app_sources.list().",
                    status_code=response.status_code,
                )
        return status

    def wait(
        self,
        job: AsyncStatus | str,
        timeout: float = 600,
        on_status: StatusCallback | None = None,
        *,
        _what: str = "",
    ) -> ApplicationSource:
        """Wait for a source-creation job (an :class:`AsyncStatus` or its status URL) to finish."""
        if isinstance(job, AsyncStatus):
            if job.completed and job.location:
                return self._fetch_result(job.location)
            location = f"status/{quote_id(job.status_id)}/"
        else:
            location = str(job)
        what = f" {_what}" if _what else ""
        deadline = time.monotonic() + timeout
        delay = 0.5
        bar = progress_bar(
            self._client.progress,
            desc="Creating application source",
            bar_format="{desc} [{elapsed}]",
        )
        try:
            while True:
                status = self._poll(location)
                if on_status is not None:
                    on_status(status)
                if bar is not None:
                    bar.set_description_str(f"Creating application source: {status.status}")
                if status.completed and status.location:
                    return self._fetch_result(status.location)
                if status.failed:
                    detail = f": {status.message}" if status.message else ""
                    raise AsyncOperationError(
                        f"Creating the application source{what} ended {status.status}{detail}",
                        status=status,
                        server_message=status.message,
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AsyncTimeoutError(
                        f"Creating the application source{what} did not finish within "
                        f"{timeout:g} s (last status {status.status or 'unknown'}); it may still "
                        f"finish: client.app_sources.wait({location!r})",
                        status=status,
                    )
                time.sleep(min(delay, remaining))
                delay = min(delay * 1.5, 5.0)
        finally:
            if bar is not None:
                bar.close()

    def _fetch_result(self, location: str) -> ApplicationSource:
        body = self._client._transport.get_json(location)
        return ApplicationSource.from_api(body)


def _status_id(location: str) -> str:
    parts = [p for p in location.split("?", 1)[0].split("/") if p]
    return parts[-1] if parts else ""


class Client:
    """A connection to DataRobot (or the sandbox): ``client.templates``, ``client.app_sources``.

    Endpoint and token come from the arguments, else ``DATAROBOT_ENDPOINT`` /
    ``DATAROBOT_API_TOKEN``, else ``DATAROBOT_CONFIG_FILE``, else
    ``~/.config/datarobot/drconfig.yaml``; unless one is an argument, both come from the same
    place. Safe to share between threads.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | Secret | None = None,
        *,
        ssl_verify: bool | str | None = None,
        timeout: float | tuple[float, float] | None = None,
        max_workers: int = 8,
        progress: bool = True,
    ) -> None:
        if token is not None:
            token = Secret(token)  # from here on, no frame holds the token in clear
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise InvalidArgumentError(
                f"max_workers must be a whole number >= 1, not {max_workers!r}."
            )
        settings = resolve_settings(endpoint, token, ssl_verify=ssl_verify, timeout=timeout)
        self.max_workers = max_workers
        self.progress = bool(progress)
        self._transport = Transport(settings, max_workers=max_workers)
        self.templates = Templates(self)
        self.app_sources = AppSources(self)

    @property
    def endpoint(self) -> str:
        """The API root, normalised to end in ``/api/v2``."""
        return self._transport.endpoint

    def __repr__(self) -> str:
        transport = getattr(self, "_transport", None)
        return f"Client(endpoint={transport.endpoint if transport else None!r})"

    def check_connection(self) -> dict[str, Any]:
        """Make one authenticated request; the endpoint and the template count on success."""
        response = self._transport.request(
            "GET", "customTemplates/", params={"offset": 0, "limit": 1}
        )
        body = self._transport.json(response)
        total = body.get("totalCount") if isinstance(body, Mapping) else None
        return {
            "endpoint": self.endpoint,
            "ok": True,
            "template_count": total,
            "request_id": response.headers.get("X-DataRobot-Request-ID"),
        }

    def close(self) -> None:
        """Close the pooled connections (the client can still be used; it reconnects)."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
