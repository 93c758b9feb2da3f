"""Dataclasses for the API's entities.

Parsing is tolerant: any field may be null or missing, and fields the model does not name are
kept in ``extra`` (camelCase, as the server sent them), so nothing the server says is lost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

__all__ = [
    "ApplicationSource",
    "ApplicationSourceVersion",
    "AsyncStatus",
    "DefaultEnvironment",
    "Template",
    "TemplateFile",
    "TemplateMetadata",
    "WorkspaceItem",
]

M = TypeVar("M", bound="_Model")


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 string (``Z`` suffix included) as a datetime; anything unparsable as None."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _str_list(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)):
        return []
    for item in value:
        if type(item) is not str:
            return [str(item) for item in value if item is not None]
    return list(value)  # the usual case: strings only, copied without a str() call each


def _api(name: str, convert: Callable[[Any], Any] | None = None, **kwargs: Any) -> Any:
    """A dataclass field read from the API key ``name``, optionally converted."""
    return field(metadata={"api": name, "convert": convert}, **kwargs)


_PARSERS: dict[type, Callable[[Any], Any]] = {}


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _compile_parser(cls: type[_Model]) -> Callable[[Mapping[str, Any] | None], Any]:
    """The body of ``cls.from_api``, generated once per model as ``dataclasses`` does for
    ``__init__``: one dict pop and one attribute store per field, no loop over field specs.
    Listings build tens of thousands of models; this is several times cheaper per field.
    """
    env: dict[str, Any] = {"new": object.__new__, "cls": cls, "is_mapping": _is_mapping}
    lines = ["extra = dict(data) if data else {}", "pop = extra.pop", "m = new(cls)"]
    for i, f in enumerate(dataclasses.fields(cls)):  # type: ignore[arg-type]
        if f.name == "extra":
            continue
        if f.default_factory is not dataclasses.MISSING:
            env[f"default{i}"] = f.default_factory
            default = f"default{i}()"
        else:
            env[f"default{i}"] = f.default
            default = f"default{i}"
        key = f.metadata.get("api")
        if key is None:
            lines.append(f"m.{f.name} = {default}")
            continue
        nested = cls._nested.get(f.name)
        convert = f.metadata.get("convert")
        if nested is not None and f.default_factory is list:
            env[f"parse{i}"] = nested.from_api
            value = f"[parse{i}(x) for x in v if is_mapping(x)] if type(v) is list else []"
        elif nested is not None:
            env[f"parse{i}"] = nested.from_api
            value = f"parse{i}(v if is_mapping(v) else None)"
        elif convert is not None:
            env[f"parse{i}"] = convert
            value = f"parse{i}(v)"
        else:
            value = "v"
        lines += [f"v = pop({key!r}, None)", f"m.{f.name} = {default} if v is None else {value}"]
    lines += ["m.extra = extra", "return m"]
    source = "def from_api(data):\n" + "".join(f"    {line}\n" for line in lines)
    exec(source, env)
    return env["from_api"]


class _Model:
    """Shared tolerant parsing: ``from_api`` maps camelCase keys onto the dataclass fields."""

    _nested: ClassVar[dict[str, type[_Model]]] = {}

    extra: dict[str, Any]

    @classmethod
    def from_api(cls: type[M], data: Mapping[str, Any] | None) -> M:
        """Build the model from a JSON object; missing or null fields get their defaults.

        Keys the model does not name are kept in ``extra``.
        """
        parse = _PARSERS.get(cls)
        if parse is None:
            parse = _PARSERS[cls] = _compile_parser(cls)
        return parse(data)


@dataclass(repr=False)
class DefaultEnvironment(_Model):
    """The execution environment a template starts from."""

    environment_id: str | None = _api("environmentId", default=None)
    environment_version_id: str | None = _api("environmentVersionId", default=None)
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"DefaultEnvironment(environment_id={self.environment_id!r}, "
            f"environment_version_id={self.environment_version_id!r})"
        )


@dataclass(repr=False)
class TemplateMetadata(_Model):
    """A template's permanent metadata: README, tags, resource bundles, class labels."""

    readme: str | None = _api("readme", default=None)
    tags: list[str] = _api("tags", _str_list, default_factory=list)
    resource_bundle_ids: list[str] = _api("resourceBundleIds", _str_list, default_factory=list)
    class_labels: list[str] = _api("classLabels", _str_list, default_factory=list)
    source: dict[str, Any] = _api(
        "source", lambda v: dict(v) if isinstance(v, Mapping) else {}, default_factory=dict
    )
    template_type_specific_resources: dict[str, Any] = _api(
        "templateTypeSpecificResources",
        lambda v: dict(v) if isinstance(v, Mapping) else {},
        default_factory=dict,
    )
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        size = len(self.readme or "")
        return f"TemplateMetadata(tags={self.tags!r}, readme=<{size} chars>)"


@dataclass(repr=False)
class TemplateFile(_Model):
    """One file of a template; ``content`` is filled only by ``client.templates.file()``."""

    id: str = _api("id", str, default="")
    name: str = _api("name", default="")
    content: str | None = _api("content", default=None)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Mapping[str, Any] | None) -> TemplateFile:
        """Accept the list item ``{id, name}`` and the file body ``{id, filename, content}``."""
        if data and "name" not in data and "filename" in data:
            data = dict(data)
            data["name"] = data.pop("filename")
        return super().from_api(data)

    def __repr__(self) -> str:
        return f"TemplateFile(id={self.id!r}, name={self.name!r})"


@dataclass(repr=False)
class Template(_Model):
    """A custom template: an application, custom metric or custom job starting point."""

    _nested: ClassVar[dict[str, type[_Model]]] = {
        "default_environment": DefaultEnvironment,
        "metadata": TemplateMetadata,
        "files": TemplateFile,
    }

    id: str = _api("id", str, default="")
    name: str = _api("name", default="")
    description: str = _api("description", default="")
    template_type: str = _api("templateType", default="")
    template_sub_type: str | None = _api("templateSubType", default=None)
    enabled: bool = _api("enabled", lambda v: True if v is None else bool(v), default=True)
    default_resource_bundle_id: str | None = _api("defaultResourceBundleId", default=None)
    default_environment: DefaultEnvironment = _api(
        "defaultEnvironment", default_factory=DefaultEnvironment
    )
    metadata: TemplateMetadata = _api("templateMetadata", default_factory=TemplateMetadata)
    files: list[TemplateFile] = _api("items", default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def readme(self) -> str | None:
        """The README markdown (from ``templateMetadata.readme``)."""
        return self.metadata.readme

    @property
    def tags(self) -> list[str]:
        """The template's tags."""
        return self.metadata.tags

    @property
    def publisher(self) -> str | None:
        """Who published the template, when the server says."""
        value = self.extra.get("publisher")
        return None if value is None else str(value)

    @property
    def category(self) -> str | None:
        """The template's category (use case), when the server says."""
        value = self.extra.get("category")
        return None if value is None else str(value)

    @property
    def created_at(self) -> datetime | None:
        """Creation time, when the server sends one."""
        return parse_timestamp(self.extra.get("createdAt"))

    @property
    def updated_at(self) -> datetime | None:
        """Last modification time, when the server sends one."""
        return parse_timestamp(self.extra.get("updatedAt"))

    @property
    def can_create_application(self) -> bool:
        """Whether an application source can be created from this template."""
        return self.enabled and self.template_type == "customApplicationTemplate"

    def __repr__(self) -> str:
        sub = f"/{self.template_sub_type}" if self.template_sub_type else ""
        state = "" if self.enabled else ", disabled"
        return (
            f"Template(id={self.id!r}, name={self.name!r}, type={self.template_type}{sub}{state})"
        )

    def _repr_html_(self) -> str:
        from dr_notebook.render import template_html

        return template_html(self)


@dataclass(repr=False)
class WorkspaceItem(_Model):
    """A file of an application source version."""

    id: str = _api("id", str, default="")
    file_name: str = _api("fileName", default="")
    file_path: str = _api("filePath", default="")
    file_source: str | None = _api("fileSource", default=None)
    created: datetime | None = _api("created", parse_timestamp, default=None)
    commit_sha: str | None = _api("commitSha", default=None)
    ref: str | None = _api("ref", default=None)
    repository_file_path: str | None = _api("repositoryFilePath", default=None)
    repository_location: str | None = _api("repositoryLocation", default=None)
    repository_name: str | None = _api("repositoryName", default=None)
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"WorkspaceItem(id={self.id!r}, file_path={self.file_path!r})"


@dataclass(repr=False)
class ApplicationSourceVersion(_Model):
    """One version of an application source, with its files."""

    _nested: ClassVar[dict[str, type[_Model]]] = {"items": WorkspaceItem}

    id: str = _api("id", str, default="")
    label: str | None = _api("label", default=None)
    is_frozen: bool = _api("isFrozen", bool, default=False)
    base_environment_id: str | None = _api("baseEnvironmentId", default=None)
    base_environment_version_id: str | None = _api("baseEnvironmentVersionId", default=None)
    created_at: datetime | None = _api("createdAt", parse_timestamp, default=None)
    updated_at: datetime | None = _api("updatedAt", parse_timestamp, default=None)
    created_by: str | None = _api("createdBy", default=None)
    creator_first_name: str | None = _api("creatorFirstName", default=None)
    creator_last_name: str | None = _api("creatorLastName", default=None)
    creator_userhash: str | None = _api("creatorUserhash", default=None)
    user_id: str | None = _api("userId", default=None)
    items: list[WorkspaceItem] = _api("items", default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"ApplicationSourceVersion(id={self.id!r}, label={self.label!r}, "
            f"items={len(self.items)})"
        )


@dataclass(repr=False)
class ApplicationSource(_Model):
    """A custom application source, as created from a template."""

    _nested: ClassVar[dict[str, type[_Model]]] = {"latest_version": ApplicationSourceVersion}

    id: str = _api("id", str, default="")
    name: str = _api("name", default="")
    created_at: datetime | None = _api("createdAt", parse_timestamp, default=None)
    updated_at: datetime | None = _api("updatedAt", parse_timestamp, default=None)
    created_by: str | None = _api("createdBy", default=None)
    creator_first_name: str | None = _api("creatorFirstName", default=None)
    creator_last_name: str | None = _api("creatorLastName", default=None)
    creator_userhash: str | None = _api("creatorUserhash", default=None)
    user_id: str | None = _api("userId", default=None)
    org_id: str | None = _api("orgId", default=None)
    permissions: list[str] = _api("permissions", _str_list, default_factory=list)
    latest_version: ApplicationSourceVersion = _api(
        "latestVersion", default_factory=ApplicationSourceVersion
    )
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def files(self) -> list[WorkspaceItem]:
        """The files of the latest version."""
        return self.latest_version.items

    def __repr__(self) -> str:
        return (
            f"ApplicationSource(id={self.id!r}, name={self.name!r}, "
            f"version={self.latest_version.label!r}, files={len(self.files)})"
        )

    def _repr_html_(self) -> str:
        from dr_notebook.render import source_html

        return source_html(self)


@dataclass(repr=False)
class AsyncStatus(_Model):
    """The state of an asynchronous job (``GET status/{id}/``)."""

    FAILED: ClassVar[frozenset[str]] = frozenset({"ERROR", "ABORTED", "EXPIRED"})

    status_id: str = _api("statusId", str, default="")
    status: str = _api("status", lambda v: str(v or "").upper(), default="")
    message: str | None = _api("message", default=None)
    code: int | None = _api("code", default=None)
    created: datetime | None = _api("created", parse_timestamp, default=None)
    description: str | None = _api("description", default=None)
    status_type: str | None = _api("statusType", default=None)
    location: str | None = field(default=None)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """The job ended without a result (ERROR, ABORTED or EXPIRED)."""
        return self.status in self.FAILED

    @property
    def completed(self) -> bool:
        """The job finished and its result is at ``location``."""
        return self.status == "COMPLETED"

    def __repr__(self) -> str:
        return f"AsyncStatus(status_id={self.status_id!r}, status={self.status!r})"
