"""``client.templates``: list, read, create, update and delete custom templates."""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from typing_extensions import Unpack

from dr_notebook.enums import (
    APPLICATION_TEMPLATE,
    RESOURCE_BUNDLE_IDS,
    TEMPLATE_ORDER_BY,
    TEMPLATE_TYPE_LABELS,
    expand_template_type,
)
from dr_notebook.errors import (
    DataRobotError,
    InvalidArgumentError,
    NoMatchWarning,
)
from dr_notebook.http import quote_id
from dr_notebook.models import (
    DefaultEnvironment,
    RuntimeParameter,
    Template,
    TemplateFile,
    TemplateMetadata,
)
from dr_notebook.resources._names import resolve_name
from dr_notebook.resources._resource import Resource
from dr_notebook.resources.app_folder import refuse_errors
from dr_notebook.resources.checks import (
    FORM_NAMES,
    METADATA_NAMES,
    check_id,
    check_metadata,
    check_template_type,
    check_text,
    environment_to_api,
    filter_params,
    metadata_to_api,
)
from dr_notebook.resources.packing import FileContent, content_type, read_content
from dr_notebook.resources.pagination import PAGE_SIZE, Page

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TemplateFilters", "Templates"]

log = logging.getLogger("dr_notebook.client")

_REQUIRED = ("name", "description", "template_type", "template_sub_type")
_HINTED_FILTERS = {"templateType": "type", "templateSubType": "sub-type"}
_FILTER_KEYS = {
    "search": "search",
    "tag": "tag",
    "template_type": "templateType",
    "template_sub_type": "templateSubType",
    "publisher": "publisher",
    "category": "category",
    "order_by": "orderBy",
}

#: A template (its environment is copied), its ``default_environment``, or the two ids.
Environment = Template | DefaultEnvironment | Mapping[str, str] | tuple[str, str]


class TemplateFilters(TypedDict, total=False):
    """The filters of :meth:`Templates.list`, :meth:`Templates.iter` and :meth:`Templates.frame`.

    ``template_type`` takes the short names ``application``, ``metric``, ``job`` too.
    ``order_by`` is one of ``name``, ``createdAt``, ``templateType``, ``templateSubType``
    (or their snake_case: ``created_at``), prefixed with ``-`` for descending; ``limit`` caps
    how many templates come back.
    """

    search: str | None
    tag: str | None
    template_type: str | None
    template_sub_type: str | None
    publisher: str | None
    category: str | None
    order_by: str | None
    limit: int | None


def _query(filters: TemplateFilters) -> tuple[dict[str, str], int | None]:
    """The query parameters and the limit of ``filters``, checked."""
    params, limit = filter_params(filters, _FILTER_KEYS, TEMPLATE_ORDER_BY)
    if "templateType" in params:
        params["templateType"] = expand_template_type(params["templateType"]) or ""
    return params, limit


def _folder_readme(folder: Path) -> str | None:
    for name in ("README.md", "readme.md", "README.MD"):
        if (folder / name).is_file():
            return (folder / name).read_text(encoding="utf-8", errors="replace")
    return None


class Templates(Resource[Template]):
    """``client.templates``: list, read, create, update and delete custom templates."""

    list_path = "customTemplates/"
    model = Template
    progress_label = "Listing templates"

    def list(
        self, *, progress: bool | None = None, **filters: Unpack[TemplateFilters]
    ) -> list[Template]:
        """Every template matching the filters (at most ``limit``), in the server's order.

        Pages after the first are read concurrently; ``progress`` (default: the client's)
        shows a bar while they load. An empty result filtered by a type or sub-type that no
        template has warns (``NoMatchWarning``) with the values that exist.
        """
        params, limit = _query(filters)
        items = self._pages.all(params, limit, progress=self._show_progress(progress))
        self._warn_if_empty(len(items), params, limit)
        return items

    def _warn_if_empty(self, count: int, params: Mapping[str, str], limit: int | None) -> None:
        """Warn (``NoMatchWarning``, pointing at the user's call) when a listing came back empty
        because of a type or sub-type no template has."""
        hint = None if count or limit == 0 else self._no_match_hint(params)
        if hint:
            warnings.warn(hint, NoMatchWarning, stacklevel=3)

    def _no_match_hint(self, params: Mapping[str, str]) -> str | None:
        """Why a listing with these query ``params`` is empty, when a ``templateType`` or
        ``templateSubType`` filter names a value no template has: one line naming the values
        that exist (the sub-types of the type asked for). None when the values exist.

        Costs one request for one page of templates per field checked (two more at most):
        with a larger catalogue, the values named are those of its first page, and the line
        says so.
        """
        for key, label in _HINTED_FILTERS.items():
            value = params.get(key)
            if not value:
                continue
            scope = {"templateType": params["templateType"]} if key == "templateSubType" else {}
            page = self._transport.get_json(self.list_path, params={**scope, "limit": PAGE_SIZE})
            data = page.get("data") if isinstance(page, Mapping) else None
            rows = [row for row in data or [] if isinstance(row, Mapping)]
            existing = sorted({str(row[key]) for row in rows if row.get(key)}, key=str.casefold)
            if value in existing:
                continue  # the value exists: the other filters left nothing
            total = page.get("totalCount") if isinstance(page, Mapping) else None
            partial = isinstance(total, int) and total > len(rows)
            if partial and set(params) - {key, "orderBy", *scope}:
                # Other filters were given too: ask whether the value exists at all.
                probe = self._transport.get_json(
                    self.list_path, params={**scope, key: value, "limit": 1}
                )
                if isinstance(probe, Mapping) and probe.get("data"):
                    continue
            names = [
                f"{v} ({TEMPLATE_TYPE_LABELS[v]})" if v in TEMPLATE_TYPE_LABELS else v
                for v in existing
            ]
            whose = f"{scope['templateType']} template" if scope else "template"
            where = f" among the first {len(rows)} of {total} templates" if partial else ""
            found = ", ".join(names) if names else "none"
            return f"No {whose} has the {label} {value!r}; {label}s that exist{where}: {found}."
        return None

    def iter(self, **filters: Unpack[TemplateFilters]) -> Iterator[Template]:
        """Like :meth:`list`, lazily: one page is fetched when the previous one is used up."""
        params, limit = _query(filters)
        return self._pages.iter(params, limit)

    def frame(
        self, *, progress: bool | None = None, **filters: Unpack[TemplateFilters]
    ) -> pd.DataFrame:
        """:meth:`list` as a pandas DataFrame, one row per template (see ``frames``)."""
        from dr_notebook.frames import TemplateRows

        params, limit = _query(filters)
        rows = TemplateRows()
        # Page by page: the models of a page are dropped once its values are in the columns.
        for page in self._pages.stream(params, limit, progress=self._show_progress(progress)):
            rows.add(page, adopt=True)
        self._warn_if_empty(len(rows), params, limit)
        return rows.frame()

    def pages(self, **filters: Unpack[TemplateFilters]) -> Generator[Page[Template], None, None]:
        """The listing of :meth:`list` as its pages arrive (for displays that fill as it loads).

        Each page holds the templates new to the caller and, as ``total``, how many the whole
        listing will have (None when the server does not say). Close the iterator to stop early.
        """
        params, limit = _query(filters)
        return self._pages.pages(params, limit)

    def get(self, template_id: str | Template) -> Template:
        """One template by id."""
        template_id = check_id("template_id", template_id)
        return Template.from_api(
            self._transport.get_json(f"customTemplates/{quote_id(template_id)}/")
        )

    def resolve(self, id_or_name: str | Template) -> Template:
        """The template with this id, else the one with exactly this name (case-insensitive).

        Raises ``NotFoundError`` when none matches, ``AmbiguousNameError`` when several do.
        """
        if isinstance(id_or_name, Template):
            return id_or_name
        return resolve_name(
            check_id("id_or_name", id_or_name),
            get=self.get,
            search=lambda text: self.list(search=text, progress=False),
            kind="template",
            every=lambda: self.list(progress=False),
        )

    def names(self) -> list[tuple[str, str]]:
        """``(id, name)`` of every template, for completion (no progress bar)."""
        return [(t.id, t.name) for t in self.list(progress=False)]

    @staticmethod
    def _form(values: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        """Validated multipart fields (``files=`` form of requests) for create and update."""
        form: dict[str, Any] = {}
        for snake, api_name in FORM_NAMES.items():
            value = values.get(snake)
            if snake == "template_type":
                value = check_template_type(value)
            value = check_text(snake, value, required=creating and snake in _REQUIRED)
            if value is not None:
                form[api_name] = (None, value)
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

    @staticmethod
    def _metadata(base: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
        """``base`` metadata (camelCase) with the metadata keywords given in ``values``."""
        for snake, key in METADATA_NAMES.items():
            if values.get(snake) is not None:
                base[key] = values[snake]
        return check_metadata(base)

    def create(
        self,
        name: str,
        *,
        description: str,
        template_type: str,
        template_sub_type: str,
        default_environment: Environment,
        file: FileContent,
        enabled: bool | None = None,
        default_resource_bundle_id: str | None = None,
        readme: str | os.PathLike[str] | None = None,
        tags: Iterable[str] | None = None,
        resource_bundle_ids: Iterable[str] | None = None,
        class_labels: Iterable[str] | None = None,
        template_metadata: TemplateMetadata | Mapping[str, Any] | None = None,
        publisher: str | None = None,
        category: str | None = None,
        filename: str | None = None,
    ) -> Template:
        """Publish a new template and return it as the server stores it.

        ``template_type`` takes the short names ``application``, ``metric``, ``job`` too; a type
        outside the known ones is sent as given, with a warning (once per value).
        ``default_environment`` is the execution environment the template runs in: an
        environment id and version id. The simplest source is an existing template of the same
        kind: pass it (``default_environment=client.templates.resolve("Flask App Base")``) and
        its ``default_environment`` is copied. A dict ``{"environment_id": ...,
        "environment_version_id": ...}`` or a pair ``(id, version_id)`` works too.
        ``file`` is a path to a file, a folder (zipped on the fly, ``.git`` and caches left out)
        or the content as bytes. With a folder and no ``readme``, its ``README.md`` is used.
        An application template's folder is checked first (``drn.check_app_folder``): errors
        raise ``AppFolderError`` and nothing is sent.
        Everything is checked before anything is sent.
        """
        values = dict(locals())  # first statement: the arguments, by name
        form = self._form(values, creating=True)
        application = form["templateType"][1] == APPLICATION_TEMPLATE
        if (
            application
            and isinstance(file, (str, os.PathLike))
            and Path(file).expanduser().is_dir()
        ):
            refuse_errors(file)  # an application template: its folder must be able to run
        upload_name, content, folder = read_content(file, filename)
        base = metadata_to_api(template_metadata) if template_metadata is not None else {}
        if readme is None and base.get("readme") is None and folder is not None:
            values["readme"] = _folder_readme(folder)
        meta = self._metadata(base, values)
        if meta:
            form["templateMetadata"] = (None, json.dumps(meta))
        form["file"] = (upload_name, content, content_type(content))

        response = self._transport.request("POST", "customTemplates/", files=form, upload=True)
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

    def update(
        self,
        template: str | Template,
        *,
        name: str | None = None,
        description: str | None = None,
        template_type: str | None = None,
        template_sub_type: str | None = None,
        default_environment: Environment | None = None,
        file: FileContent | None = None,
        enabled: bool | None = None,
        default_resource_bundle_id: str | None = None,
        readme: str | os.PathLike[str] | None = None,
        tags: Iterable[str] | None = None,
        resource_bundle_ids: Iterable[str] | None = None,
        class_labels: Iterable[str] | None = None,
        template_metadata: TemplateMetadata | Mapping[str, Any] | None = None,
        publisher: str | None = None,
        category: str | None = None,
        filename: str | None = None,
    ) -> Template:
        """Change some fields of a template and return it as the server now has it.

        Takes the keywords of :meth:`create`, all optional (None leaves a field as it is);
        metadata fields (``readme``, ``tags``, ...) are merged into the current metadata.
        """
        # First statement: the keywords given, by name.
        values = {
            k: v for k, v in locals().items() if k not in ("self", "template") and v is not None
        }
        template_id = check_id("template", template)
        if not values:
            raise InvalidArgumentError(
                "update() needs at least one field to change, e.g. name='...'."
            )
        form = self._form(values, creating=False)
        if template_metadata is not None or any(k in values for k in METADATA_NAMES):
            if template_metadata is not None:
                base = metadata_to_api(template_metadata)
            else:
                base = metadata_to_api(self.get(template_id).metadata)
            form["templateMetadata"] = (None, json.dumps(self._metadata(base, values)))
        if file is not None:
            upload_name, content, _ = read_content(file, filename)
            form["file"] = (upload_name, content, content_type(content))
        response = self._transport.request(
            "PATCH", f"customTemplates/{quote_id(template_id)}/", files=form, upload="file" in form
        )
        body = self._transport.json(response)
        if isinstance(body, Mapping) and body.get("id"):
            return Template.from_api(body)
        return self.get(template_id)

    def delete(self, template: str | Template) -> None:
        """Delete a template."""
        template_id = check_id("template", template)
        self._delete(f"customTemplates/{quote_id(template_id)}/")

    def file(self, template: str | Template, file: str | TemplateFile) -> TemplateFile:
        """One file of a template, with its ``content``."""
        template_id = check_id("template", template)
        file_id = check_id("file", file)
        body = self._transport.get_json(
            f"customTemplates/{quote_id(template_id)}/files/{quote_id(file_id)}/"
        )
        return TemplateFile.from_api(body)

    def runtime_parameters(self, template: str | Template) -> list[RuntimeParameter]:
        """The runtime parameters the template's ``metadata.yaml`` declares (none: ``[]``).

        ``template`` is a template, its id or its exact name (as :meth:`resolve` takes it); a
        ``Template`` already fetched with its file list costs one request (the file).
        """
        from dr_notebook.downloads import content_bytes
        from dr_notebook.resources.parameters import METADATA_FILE, parse_metadata

        chosen = (
            template
            if isinstance(template, Template) and template.files
            else self.resolve(template)
        )
        if not chosen.files:
            chosen = self.get(chosen.id)
        found = next((f for f in chosen.files if f.name == METADATA_FILE), None)
        if found is None:
            return []
        path = f"customTemplates/{quote_id(chosen.id)}/files/{quote_id(found.id)}/"
        return parse_metadata(content_bytes(self._transport.get_json(path)))

    def download(
        self,
        template: str | Template,
        folder: str | os.PathLike[str],
        *,
        overwrite: bool = False,
    ) -> list[Path]:
        """Write the template's files into ``folder``; the local paths, in the template's order.

        As ``client.app_sources.download``: concurrent fetches, existing files kept unless
        ``overwrite=True`` (else ``ExistingFileError``), server paths outside the folder or
        clashing refused (``UnsafePathError``), all or nothing.
        """
        from dr_notebook.downloads import content_bytes, download_files

        template_id = check_id("template", template)
        current = self.get(template_id)  # the file list as it is now
        ids = {f.name: f.id for f in current.files}

        def fetch(name: str) -> bytes:
            return content_bytes(
                self._transport.get_json(
                    f"customTemplates/{quote_id(template_id)}/files/{quote_id(ids[name])}/",
                    verbatim=True,
                )
            )

        names = [f.name for f in current.files]  # duplicates are refused, not merged
        return download_files(
            folder, names, fetch, overwrite=overwrite, max_workers=self._max_workers
        )
