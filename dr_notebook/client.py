"""``Client``: custom templates and application sources, over the HTTP layer.

Listing fetches page one, reads ``totalCount`` and fetches the remaining pages concurrently;
creation validates its input before anything is sent; asynchronous jobs are polled with back-off.
"""

from __future__ import annotations

import difflib
import gc
import io
import json
import logging
import math
import os
import re
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Union

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

if TYPE_CHECKING:
    import pandas as pd
    import requests

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

PAGE_SIZE = 100
PROGRESS_DELAY = 0.5
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
RESOURCE_BUNDLE_IDS = [
    "cpu.nano",
    "cpu.micro",
    "cpu.small",
    "cpu.medium",
    "cpu.large",
    "cpu.xlarge",
    "cpu.2xlarge",
    "cpu.3xlarge",
    "cpu.4xlarge",
    "cpu.5xlarge",
    "cpu.6xlarge",
    "cpu.7xlarge",
    "cpu.8xlarge",
    "cpu.16xlarge",
    "DRAWSG4dn.xlargeFrac1Regular",
    "DRAWSG4dn.2xlargeFrac1Regular",
    "DRAWSG5.2xlargeFrac1Regular",
    "DRAWSG5.12xlargeFrac1Regular",
    "DRAWSG5.48xlargeFrac1Regular",
    "DRAWSG6e.xlargeFrac1Regular",
    "DRAWSG6e.12xlargeFrac1Regular",
    "DRAWSG6e.48xlargeFrac1Regular",
    "gpu.small",
    "gpu.medium",
    "gpu.large",
    "gpu.xlarge",
    "gpu.2xlarge",
    "gpu.3xlarge",
    "gpu.5xlarge",
    "gpu.7xlarge",
    "starter",
    "basic",
    "basic.8x",
    "train.l",
    "infer.s",
    "infer.m",
    "infer.l",
]
TEXT_LIMITS = {
    "name": 255,
    "description": 10_000,
    "template_type": 255,
    "template_sub_type": 255,
    "publisher": 255,
    "category": 255,
}
MAX_README = 1_048_576
MAX_LIST_ITEMS = 1000
MAX_FILES = 1000
SKIPPED_NAMES = frozenset({".git", "__pycache__", ".ipynb_checkpoints", ".DS_Store", ".venv"})
_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")

FileContent = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]  # noqa: UP007
StatusCallback = Callable[[AsyncStatus], Any]

_FORM_NAMES = {
    "name": "name",
    "description": "description",
    "template_type": "templateType",
    "template_sub_type": "templateSubType",
    "default_resource_bundle_id": "defaultResourceBundleId",
    "publisher": "publisher",
    "category": "category",
}
_METADATA_NAMES = {
    "readme": "readme",
    "tags": "tags",
    "resource_bundle_ids": "resourceBundleIds",
    "class_labels": "classLabels",
}
UPDATABLE = frozenset(
    {*_FORM_NAMES, *_METADATA_NAMES, "default_environment", "enabled", "template_metadata"}
    | {"file", "filename"}
)


_gc_lock = threading.Lock()
_gc_users = 0
_gc_was_enabled = False


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large listing is decoded and parsed.

    Listing 10,000 templates allocates some 400,000 acyclic containers (JSON dicts, models);
    the collector would rescan them again and again for nothing (about 15% of the time).
    Reference counting still frees everything; concurrent listings share one pause, and the
    collector is re-enabled only if it was enabled before. Cyclic garbage other threads make
    meanwhile is collected later, by the next full collection.
    """
    global _gc_users, _gc_was_enabled
    with _gc_lock:
        if _gc_users == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_was_enabled:
                if gc.get_freeze_count() == 0:
                    # What was built during the pause sits in the youngest generation, where the
                    # collector's next pass would scan it all (~60 ms for 10,000 templates) to
                    # find no cycles. Freezing and unfreezing moves it to the oldest generation
                    # unscanned, as if it had survived the young collections. (Skipped when the
                    # program froze objects itself: unfreezing would thaw those too.)
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()


def _progress(enabled: bool, **kwargs: Any) -> Any:
    """A tqdm.auto bar that only shows once the work lasts longer than a moment."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(delay=PROGRESS_DELAY, leave=False, **kwargs)


def _check_text(name: str, value: Any, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise InvalidArgumentError(f"{name} is required: pass {name}='...'.")
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a string, not {type(value).__name__}.")
    if required and not value.strip():
        raise InvalidArgumentError(f"{name} must not be empty.")
    limit = TEXT_LIMITS.get(name)
    if limit is not None and len(value) > limit:
        raise InvalidArgumentError(
            f"{name} is {len(value)} characters long; the limit is {limit}: shorten it."
        )
    return value


def _check_id(name: str, value: Any) -> str:
    if isinstance(value, (Template, ApplicationSource)):
        value = value.id
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{name} must be a non-empty id string, not {value!r}.")
    return value.strip()


def _check_str_list(name: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidArgumentError(f"{name} must be a list of strings, e.g. {name}=['a', 'b'].")
    items = list(value)
    if not all(isinstance(item, str) for item in items):
        raise InvalidArgumentError(f"{name} must be a list of strings.")
    if len(items) > MAX_LIST_ITEMS:
        raise InvalidArgumentError(f"{name} has {len(items)} items; the limit is {MAX_LIST_ITEMS}.")
    return items


def _environment(value: Any) -> dict[str, str]:
    """``default_environment`` as the API's ``{environmentId, environmentVersionId}``."""
    if isinstance(value, DefaultEnvironment):
        env = {
            "environmentId": value.environment_id,
            "environmentVersionId": value.environment_version_id,
        }
    elif isinstance(value, Mapping):
        env = {
            "environmentId": value.get("environmentId", value.get("environment_id")),
            "environmentVersionId": value.get(
                "environmentVersionId", value.get("environment_version_id")
            ),
        }
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        env = {"environmentId": value[0], "environmentVersionId": value[1]}
    else:
        env = {}
    if not all(isinstance(v, str) and v.strip() for v in env.values()) or len(env) != 2:
        raise InvalidArgumentError(
            "default_environment needs an environment id and version id: pass "
            "{'environment_id': '...', 'environment_version_id': '...'} or a pair (id, version_id)."
        )
    return env


def _metadata_to_api(meta: TemplateMetadata | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(meta, TemplateMetadata):
        data = dict(meta.extra)
        for f in dataclass_fields(meta):
            key = f.metadata.get("api")
            if key is not None:
                data[key] = getattr(meta, f.name)
        return data
    if isinstance(meta, Mapping):
        snake_to_api = {**_METADATA_NAMES, "source": "source"}
        snake_to_api["template_type_specific_resources"] = "templateTypeSpecificResources"
        return {snake_to_api.get(k, k): v for k, v in meta.items()}
    raise InvalidArgumentError("template_metadata must be a TemplateMetadata or a dict.")


def _check_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    readme = meta.get("readme")
    if isinstance(readme, os.PathLike):
        readme = meta["readme"] = Path(readme).read_text(encoding="utf-8")
    if readme is not None and not isinstance(readme, str):
        raise InvalidArgumentError("readme must be a string (the README's markdown).")
    if readme is not None and len(readme) > MAX_README:
        raise InvalidArgumentError(f"readme is longer than {MAX_README} characters: shorten it.")
    for snake, key in _METADATA_NAMES.items():
        if key != "readme" and meta.get(key) is not None:
            meta[key] = _check_str_list(snake, meta[key])
    bundles = [b for b in meta.get("resourceBundleIds") or [] if b not in RESOURCE_BUNDLE_IDS]
    if bundles:
        raise InvalidArgumentError(
            f"resource_bundle_ids has unknown ids {bundles}; "
            f"allowed: {', '.join(RESOURCE_BUNDLE_IDS)}."
        )
    return meta


def _zip_folder(folder: Path) -> bytes:
    """The folder's files as an in-memory zip (relative paths; ``.git`` and caches left out)."""
    buffer = io.BytesIO()
    count = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_NAMES)
            for name in sorted(names):
                if name in SKIPPED_NAMES:
                    continue
                path = Path(root, name)
                if not path.is_file():
                    continue
                count += 1
                if count > MAX_FILES:
                    raise InvalidArgumentError(
                        f"{folder} holds more than {MAX_FILES} files; a template may have at most "
                        f"{MAX_FILES}."
                    )
                archive.write(path, path.relative_to(folder).as_posix())
    if count == 0:
        raise InvalidArgumentError(f"The folder {folder} holds no files to upload.")
    return buffer.getvalue()


def read_content(file: FileContent, filename: str | None = None) -> tuple[str, bytes, Path | None]:
    """Template content as ``(filename, bytes, folder)``: a file, a folder (zipped) or bytes."""
    if isinstance(file, (bytes, bytearray, memoryview)):
        content = bytes(file)
        default = "template.zip" if content[:4] == b"PK\x03\x04" else "template"
        name, folder = filename or default, None
    elif isinstance(file, (str, os.PathLike)):
        path = Path(file).expanduser()
        if path.is_dir():
            content, folder = _zip_folder(path), path
            name = filename or f"{path.resolve().name or 'template'}.zip"
        elif path.is_file():
            content, folder, name = path.read_bytes(), None, filename or path.name
        else:
            raise InvalidArgumentError(f"file={str(file)!r}: no such file or folder.")
    elif hasattr(file, "read"):
        content = file.read()
        if isinstance(content, str):
            content = content.encode("utf-8")
        name = filename or Path(getattr(file, "name", "") or "template").name
        folder = None
    else:
        raise InvalidArgumentError(
            "file must be a path to a file or folder, bytes, or a binary file object."
        )
    if not content:
        raise InvalidArgumentError("The template content is empty: give a non-empty file.")
    return name, content, folder


class _Paginator:
    """Reads a paginated list endpoint: all pages concurrently, or one page at a time."""

    def __init__(
        self, client: Client, path: str, parse: Callable[[Mapping[str, Any]], Any], label: str
    ) -> None:
        self._client = client
        self._path = path
        self._parse = parse
        self._label = label

    def _fetch(self, params: Mapping[str, Any], offset: int, size: int) -> requests.Response:
        return self._client._transport.request(
            "GET", self._path, params={**params, "offset": offset, "limit": size}
        )

    def _body(self, params: Mapping[str, Any], offset: int, size: int) -> dict[str, Any]:
        return self._decode(self._fetch(params, offset, size))

    def _decode(self, response: requests.Response) -> dict[str, Any]:
        body = self._client._transport.json(response)
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            raise DataRobotError(f"Unexpected list response from GET {self._path}: no 'data' list.")
        return dict(body)

    def _items(self, body: Mapping[str, Any]) -> list[Any]:
        return [self._parse(item) for item in body["data"] if isinstance(item, Mapping)]

    def _page(
        self, params: Mapping[str, Any], offset: int, size: int
    ) -> tuple[list[Any], dict[str, Any]]:
        body = self._body(params, offset, size)
        return self._items(body), body

    def all(self, params: Mapping[str, Any], limit: int | None) -> list[Any]:
        if limit == 0:
            return []
        want = math.inf if limit is None else limit
        first_size = int(min(PAGE_SIZE, want))
        items, body = self._page(params, 0, first_size)
        total = body.get("totalCount")
        if len(items) >= want or not items:
            return _unique(items)[: None if limit is None else limit]
        if not isinstance(total, int) or isinstance(total, bool):
            items.extend(self._follow_next(body, want - len(items)))
            return _unique(items)[: None if limit is None else limit]
        target = int(min(total, want))
        # A server that caps pages below what was asked for sets the stride.
        stride = len(items) if len(items) < first_size else first_size
        offsets = list(range(len(items), target, stride))
        if not offsets:
            return _unique(items)
        pages: list[list[Any]] = []
        bar = _progress(
            self._client.progress and len(offsets) > 1,
            total=len(offsets) + 1,
            initial=1,
            unit="page",
            desc=self._label,
        )
        workers = max(1, min(self._client.max_workers, len(offsets)))
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dr-notebook-page")
        with _gc_paused():
            try:
                # Workers only fetch: pages are decoded and models built here, in order, while
                # the workers' next requests are already on the wire (a worker that decoded
                # would send its next request that much later).
                futures = [
                    executor.submit(self._fetch, params, offset, min(stride, target - offset))
                    for offset in offsets
                ]
                for future in futures:
                    pages.append(self._items(self._decode(future.result())))
                    if bar is not None:
                        bar.update(1)
            finally:
                executor.shutdown(wait=True, cancel_futures=True)
                if bar is not None:
                    bar.close()
            for page in pages:
                items.extend(page)
            return _unique(items)[: None if limit is None else limit]

    def _follow_next(self, body: Mapping[str, Any], want: float) -> Iterator[Any]:
        got = 0
        seen: set[str] = set()
        while body.get("next") and got < want:
            url = str(body["next"])
            if url in seen:  # a server pointing back at itself would loop forever
                break
            seen.add(url)
            body = self._client._transport.get_json(url)
            for item in body.get("data") or []:
                if isinstance(item, Mapping):
                    got += 1
                    yield self._parse(item)

    def iter(self, params: Mapping[str, Any], limit: int | None) -> Iterator[Any]:
        want = math.inf if limit is None else limit
        seen: set[str] = set()
        yielded = 0
        offset = 0
        while yielded < want:
            size = int(min(PAGE_SIZE, want - yielded))
            items, body = self._page(params, offset, size)
            for item in items:
                key = getattr(item, "id", None)
                if key and key in seen:
                    continue
                if key:
                    seen.add(key)
                yield item
                yielded += 1
                if yielded >= want:
                    return
            offset += len(items)
            total = body.get("totalCount")
            more = (offset < total) if isinstance(total, int) else bool(body.get("next"))
            if not items or not more:
                return


def _unique(items: list[Any]) -> list[Any]:
    """Items in order, each id once (pages may overlap when the catalogue changes meanwhile)."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = getattr(item, "id", None)
        if key:
            if key in seen:
                continue
            seen.add(key)
        out.append(item)
    return out


class Templates:
    """``client.templates``: list, read, create, update and delete custom templates."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._pages = _Paginator(client, "customTemplates/", Template.from_api, "Listing templates")

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
        template_id = _check_id("template_id", template_id)
        body = self._client._transport.get_json(f"customTemplates/{quote_id(template_id)}/")
        return Template.from_api(body)

    def resolve(self, id_or_name: str | Template) -> Template:
        """The template with this id, else the one with exactly this name (case-insensitive).

        Raises ``NotFoundError`` when none matches, ``AmbiguousNameError`` when several do.
        """
        if isinstance(id_or_name, Template):
            return id_or_name
        text = _check_id("id_or_name", id_or_name)
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
        for snake, api_name in _FORM_NAMES.items():
            if snake not in values:
                continue
            required = creating and snake in {
                "name",
                "description",
                "template_type",
                "template_sub_type",
            }
            value = _check_text(snake, values[snake], required=required)
            if value is not None:
                form[api_name] = (None, value)
        if creating:
            for snake in ("name", "description", "template_type", "template_sub_type"):
                _check_text(snake, values.get(snake), required=True)
        bundle = values.get("default_resource_bundle_id")
        if bundle is not None and bundle not in RESOURCE_BUNDLE_IDS:
            raise InvalidArgumentError(
                f"default_resource_bundle_id={bundle!r} is not allowed; use one of: "
                f"{', '.join(RESOURCE_BUNDLE_IDS)}."
            )
        if creating or values.get("default_environment") is not None:
            env = _environment(values.get("default_environment"))
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
        meta = _metadata_to_api(template_metadata) if template_metadata is not None else {}
        extra = {
            "readme": readme,
            "tags": tags,
            "resource_bundle_ids": resource_bundle_ids,
            "class_labels": class_labels,
        }
        for snake, value in extra.items():
            if value is not None:
                meta[_METADATA_NAMES[snake]] = value
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
            form["templateMetadata"] = (None, json.dumps(_check_metadata(meta)))
        form["file"] = (upload_name, content, _content_type(content))

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
        template_id = _check_id("template_id", template_id)
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
        meta_changes = {k: changes[k] for k in _METADATA_NAMES if k in changes}
        if "template_metadata" in changes or meta_changes:
            if "template_metadata" in changes:
                meta = _metadata_to_api(changes["template_metadata"])
            else:
                meta = _metadata_to_api(self.get(template_id).metadata)
            for snake, value in meta_changes.items():
                meta[_METADATA_NAMES[snake]] = value
            form["templateMetadata"] = (None, json.dumps(_check_metadata(meta)))
        if "file" in changes:
            upload_name, content, _ = read_content(changes["file"], changes.get("filename"))
            form["file"] = (upload_name, content, _content_type(content))
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
        template_id = _check_id("template_id", template_id)
        try:
            self._client._transport.request("DELETE", f"customTemplates/{quote_id(template_id)}/")
        except NotFoundError as err:
            # A retried DELETE whose first attempt went through answers 404: that is success.
            if not getattr(err, "attempts", 1) > 1:
                raise

    def file(self, template_id: str | Template, file_id: str | TemplateFile) -> TemplateFile:
        """One file of a template, with its ``content``."""
        template_id = _check_id("template_id", template_id)
        if isinstance(file_id, TemplateFile):
            file_id = file_id.id
        file_id = _check_id("file_id", file_id)
        body = self._client._transport.get_json(
            f"customTemplates/{quote_id(template_id)}/files/{quote_id(file_id)}/"
        )
        return TemplateFile.from_api(body)


def _content_type(content: bytes) -> str:
    if content[:4] == b"PK\x03\x04":
        return "application/zip"
    if content[:2] == b"\x1f\x8b":
        return "application/gzip"
    return "application/octet-stream"


class AppSources:
    """``client.app_sources``: custom application sources, created from templates."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._pages = _Paginator(
            client, "customApplicationSources/", ApplicationSource.from_api, "Listing sources"
        )

    def __repr__(self) -> str:
        return f"<AppSources of {self._client.endpoint}>"

    def get(self, source_id: str) -> ApplicationSource:
        """One application source by id."""
        source_id = _check_id("source_id", source_id)
        body = self._client._transport.get_json(f"customApplicationSources/{quote_id(source_id)}/")
        return ApplicationSource.from_api(body)

    def list(
        self, name: str | None = None, order_by: str | None = None, limit: int | None = None
    ) -> list[ApplicationSource]:
        """Every application source the token can see (optionally filtered by name)."""
        params: dict[str, str] = {}
        if name is not None:
            params["name"] = _check_text("name", name, required=False) or ""
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
        template_id = _check_id("template_id", template_id)
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
            if isinstance(status, ApplicationSource):
                return status
            if on_status is not None:
                on_status(status)
            return status
        return self.wait(
            location, timeout=timeout, on_status=on_status, _what=f"from template {template_id}"
        )

    def _poll(self, location: str) -> AsyncStatus | ApplicationSource:
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
        bar = _progress(
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
    ``~/.config/datarobot/drconfig.yaml``. Safe to share between threads.
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
