"""The API's entities, declared once as pydantic dataclasses.

Each model maps the server's camelCase keys to snake_case attributes, coerces values to the
declared types (``5`` -> ``"5"`` for a text field, ``"false"`` -> ``False`` for a flag) and keeps
the fields it does not name in ``extra`` (camelCase, as the server sent them).

Parsing is tolerant, by one rule: a value that is null or cannot be read as its declared type
falls back to the field's default, and an unreadable item of a list is left out of the list.
One odd field never makes a whole listing fail.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any, ClassVar, TypeVar

from pydantic import AliasChoices, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass

from dr_notebook.enums import (
    APPLICATION_TEMPLATE,
    FAILED_JOB_STATUSES,
    ApplicationStatus,
    JobStatus,
)

__all__ = [
    "Application",
    "ApplicationLogs",
    "ApplicationSource",
    "ApplicationSourceVersion",
    "AsyncStatus",
    "DefaultEnvironment",
    "LaunchStep",
    "RuntimeParameter",
    "Template",
    "TemplateFile",
    "TemplateMetadata",
    "WorkspaceItem",
    "parse_timestamp",
]

M = TypeVar("M", bound="ApiModel")


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


def _without(data: Any, loc: Sequence[str | int]) -> Any:
    """A copy of ``data`` without the element at ``loc`` (or its deepest existing parent)."""
    if not loc:
        return data
    key, rest = loc[0], loc[1:]
    if isinstance(data, Mapping) and key in data:
        copy = dict(data)
        child = copy[key]
        if rest and isinstance(child, (Mapping, list)) and _has(child, rest[0]):
            copy[key] = _without(child, rest)
        else:
            del copy[key]
        return copy
    if isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
        copy = list(data)
        child = copy[key]
        if rest and isinstance(child, (Mapping, list)) and _has(child, rest[0]):
            copy[key] = _without(child, rest)
        else:
            del copy[key]
        return copy
    return data


def _has(container: Mapping[str, Any] | list[Any], key: str | int) -> bool:
    if isinstance(container, list):
        return isinstance(key, int) and 0 <= key < len(container)
    return key in container


# Pydantic dataclasses rather than BaseModel: a listing builds some 60,000 of them, and plain
# instances cost the garbage collector a third of what BaseModel instances do. Their fields are
# slots (no per-instance dict for the collector to walk); the fields the server sends that a
# model does not name land in the instance dict that ``ApiModel`` (a class without slots) keeps.
_CONFIG = ConfigDict(
    extra="allow", populate_by_name=True, alias_generator=to_camel, coerce_numbers_to_str=True
)


@cache
def _validator(cls: type) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


@cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


class ApiModel:
    """Shared by every entity: the tolerant constructor :meth:`from_api` and ``extra``."""

    @classmethod
    def from_api(cls: type[M], data: Mapping[str, Any] | None) -> M:
        """Build the model from a JSON object (see the module's rule for odd values).

        Anything but an object (``None``, a list, a string) raises ``DataRobotError``: an
        answer of the wrong shape is said, not turned into an empty model.
        """
        from dr_notebook.errors import DataRobotError

        if not isinstance(data, Mapping):
            raise DataRobotError(
                f"The server sent {type(data).__name__} where {cls.__name__} data (a JSON "
                "object) was expected."
            )
        if not data:
            return cls()
        if type(data) is not dict:
            data = dict(data)
        validator = _validator(cls)
        for _ in range(5):
            try:
                return validator.validate_python(data)
            except ValidationError as err:
                # Deepest and last locations first, so that list indexes stay valid.
                for loc in sorted((e["loc"] for e in err.errors()), key=_loc_key, reverse=True):
                    data = _without(data, loc)
        raise DataRobotError(f"The server's {cls.__name__} data could not be read.")

    @property
    def extra(self) -> dict[str, Any]:
        """The fields the server sent that the model does not name (camelCase keys)."""
        names = _field_names(type(self))  # the fields are slots: the instance dict holds the rest
        return {k: v for k, v in vars(self).items() if k not in names}

    #: The fields ``repr`` shows (the rest stay out of notebook output).
    _shown: ClassVar[tuple[str, ...]] = ("id",)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown)
        return f"{type(self).__name__}({shown})"

    #: The function of ``dr_notebook.cards`` that draws this entity as an HTML card ("": none).
    _card: ClassVar[str] = ""

    def _repr_html_(self) -> str | None:
        # Jupyter's display protocol: an entity shows as its card in any notebook, with or
        # without %load_ext. Imported at display time, so that models load without cards.
        if not self._card:
            return None
        from dr_notebook import cards

        return getattr(cards, self._card)(self)

    def to_api(self) -> dict[str, Any]:
        """The model as the API's JSON object (camelCase keys, ISO dates: ``json.dumps``
        takes it), unknown fields included."""
        return {
            **self.extra,
            **_validator(type(self)).dump_python(self, by_alias=True, mode="json"),
        }


def _loc_key(loc: tuple[str | int, ...]) -> tuple[tuple[int, str | int], ...]:
    # Mixed str/int locations sort by kind first: no str-int comparison.
    return tuple((isinstance(part, int), part) for part in loc)  # type: ignore[misc]


@dataclass(config=_CONFIG, repr=False, slots=True)
class DefaultEnvironment(ApiModel):
    """The execution environment a template starts from."""

    _shown = ("environment_id", "environment_version_id")

    environment_id: str | None = None
    environment_version_id: str | None = None


@dataclass(config=_CONFIG, repr=False, slots=True)
class TemplateMetadata(ApiModel):
    """A template's permanent metadata: README, tags, resource bundles, class labels."""

    readme: str | None = None
    tags: list[str] = Field(default_factory=list)
    resource_bundle_ids: list[str] = Field(default_factory=list)
    class_labels: list[str] = Field(default_factory=list)
    source: dict[str, Any] = Field(default_factory=dict)
    template_type_specific_resources: dict[str, Any] = Field(default_factory=dict)

    def __repr__(self) -> str:
        size = len(self.readme or "")
        return f"TemplateMetadata(tags={self.tags!r}, readme=<{size} chars>)"


@dataclass(config=_CONFIG, repr=False, slots=True)
class TemplateFile(ApiModel):
    """One file of a template; ``content`` is filled only by ``client.templates.file()``."""

    _shown = ("id", "name")

    id: str = ""
    # The template's file list says "name", the file body "filename".
    name: str = Field(default="", validation_alias=AliasChoices("name", "filename"))
    content: str | None = None


@dataclass(config=_CONFIG, repr=False, slots=True)
class Template(ApiModel):
    """A custom template: an application, custom metric or custom job starting point."""

    _card = "template_html"

    id: str = ""
    name: str = ""
    description: str = ""
    template_type: str = ""
    template_sub_type: str | None = None
    enabled: bool = True
    default_resource_bundle_id: str | None = None
    default_environment: DefaultEnvironment = Field(default_factory=DefaultEnvironment)
    metadata: TemplateMetadata = Field(default_factory=TemplateMetadata, alias="templateMetadata")
    files: list[TemplateFile] = Field(default_factory=list, alias="items")
    publisher: str | None = None
    category: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def readme(self) -> str | None:
        """The README markdown (from ``templateMetadata.readme``)."""
        return self.metadata.readme

    @property
    def tags(self) -> list[str]:
        """The template's tags."""
        return self.metadata.tags

    @property
    def can_create_application(self) -> bool:
        """Whether an application source can be created from this template."""
        return self.enabled and self.template_type == APPLICATION_TEMPLATE

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # IPython's plain-text display (terminal IPython, Out[]): a readable summary, where
        # Jupyter shows the HTML card. repr() stays one short line, for logs.
        from dr_notebook.plain_text import template_text

        printer.text(repr(self) if cycle else template_text(self))

    def __repr__(self) -> str:
        sub = f"/{self.template_sub_type}" if self.template_sub_type else ""
        state = "" if self.enabled else ", disabled"
        return (
            f"Template(id={self.id!r}, name={self.name!r}, type={self.template_type}{sub}{state})"
        )


@dataclass(config=_CONFIG, repr=False, slots=True)
class WorkspaceItem(ApiModel):
    """A file of an application source version; ``content`` is filled only by
    ``client.app_sources.file()``."""

    _shown = ("id", "file_path")

    id: str = ""
    file_name: str = ""
    file_path: str = ""
    file_source: str | None = None
    created: datetime | None = None
    commit_sha: str | None = None
    ref: str | None = None
    repository_file_path: str | None = None
    repository_location: str | None = None
    repository_name: str | None = None
    content: str | None = None


@dataclass(config=_CONFIG, repr=False, slots=True)
class RuntimeParameter(ApiModel):
    """A runtime parameter an application declares in ``metadata.yaml``, with its value.

    ``type`` is ``string``, ``boolean``, ``numeric``, ``credential`` or ``deployment`` (others
    are kept as sent). ``current_value`` is the value set on a source version (None: unset;
    a server shows a credential's id or a mask, never this client's secret); ``value`` is what
    the application gets: the current value, else the default. ``required``: no empty value
    allowed and no default.
    """

    field_name: str = ""
    type: str = "string"
    description: str | None = None
    default_value: Any = None
    current_value: Any = None
    min_value: float | None = None
    max_value: float | None = None
    allow_empty: bool = True
    credential_type: str | None = None

    @property
    def value(self) -> Any:
        """The value the application gets: the current one, else the default."""
        return self.default_value if self.current_value is None else self.current_value

    @property
    def required(self) -> bool:
        """Whether a value must be given (``allowEmpty: false`` and no default)."""
        return not self.allow_empty and self.default_value is None

    @property
    def is_credential(self) -> bool:
        """Whether the value is a secret (a ``credential`` parameter)."""
        return self.type == "credential"

    def __repr__(self) -> str:
        shown = "<set>" if self.is_credential and self.current_value is not None else None
        value = shown or repr(self.value)
        mark = ", required" if self.required else ""
        return f"RuntimeParameter({self.field_name!r}, type={self.type!r}, value={value}{mark})"


@dataclass(config=_CONFIG, repr=False, slots=True)
class _Authored(ApiModel):
    """Who made an entity and when (shared by sources and their versions)."""

    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None
    creator_first_name: str | None = None
    creator_last_name: str | None = None
    creator_userhash: str | None = None
    user_id: str | None = None


@dataclass(config=_CONFIG, repr=False, slots=True)
class ApplicationSourceVersion(_Authored):
    """One version of an application source, with its files and runtime parameters.

    ``source_id`` is the source it belongs to: the API does not send it; the client fills it
    in whenever it fetched the version through its source.
    """

    id: str = ""
    source_id: str | None = None
    label: str | None = None
    is_frozen: bool = False
    base_environment_id: str | None = None
    base_environment_version_id: str | None = None
    items: list[WorkspaceItem] = Field(default_factory=list)
    resources: dict[str, Any] | None = None
    runtime_parameters: list[RuntimeParameter] = Field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        """The files' paths in the version (``file_path``, else ``file_name``)."""
        return [item.file_path or item.file_name for item in self.items]

    def __repr__(self) -> str:
        return (
            f"ApplicationSourceVersion(id={self.id!r}, label={self.label!r}, "
            f"items={len(self.items)})"
        )


@dataclass(config=_CONFIG, repr=False, slots=True)
class ApplicationSource(_Authored):
    """A custom application source, as created from a template."""

    _card = "source_html"

    id: str = ""
    name: str = ""
    org_id: str | None = None
    permissions: list[str] = Field(default_factory=list)
    latest_version: ApplicationSourceVersion = Field(default_factory=ApplicationSourceVersion)

    @property
    def files(self) -> list[WorkspaceItem]:
        """The files of the latest version."""
        return self.latest_version.items

    def __repr__(self) -> str:
        return (
            f"ApplicationSource(id={self.id!r}, name={self.name!r}, "
            f"version={self.latest_version.label!r}, files={len(self.files)})"
        )


@dataclass(config=_CONFIG, repr=False, slots=True)
class AsyncStatus(ApiModel):
    """The state of an asynchronous job (``GET status/{id}/``)."""

    _shown = ("status_id", "status")

    FAILED: ClassVar[frozenset[str]] = FAILED_JOB_STATUSES

    status_id: str = ""
    status: str = ""
    message: str | None = None
    code: int | None = None
    created: datetime | None = None
    description: str | None = None
    status_type: str | None = None
    #: Where the result is, once the job completed (from the response's Location header).
    location: str | None = None

    @field_validator("status")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @property
    def failed(self) -> bool:
        """The job ended without a result (ERROR, ABORTED or EXPIRED)."""
        return self.status in self.FAILED

    @property
    def completed(self) -> bool:
        """The job finished and its result is at ``location``."""
        return self.status == JobStatus.COMPLETED


@dataclass(config=_CONFIG, repr=False)
class Application(_Authored):
    """A custom application: a source version built and run, opened at ``application_url``.

    ``status`` is the server's value as sent (see ``enums.ApplicationStatus``; values it does
    not list are kept, not rejected). ``source_id`` and ``source_version_id`` are what it runs.
    """

    _card = "application_html"

    id: str = ""
    name: str = ""
    status: str = ""
    application_url: str | None = None
    source_id: str | None = Field(default=None, alias="customApplicationSourceId")
    source_version_id: str | None = Field(default=None, alias="customApplicationSourceVersionId")
    env_version_id: str | None = None
    lrs_id: str | None = None
    org_id: str | None = None
    permissions: list[str] = Field(default_factory=list)
    expires_at: datetime | None = None
    external_access_enabled: bool = False
    external_access_recipients: list[str] = Field(default_factory=list)
    allow_auto_stopping: bool = False
    resources: dict[str, Any] | None = None
    required_key_scope_level: str | None = None
    build_error: str | None = None

    @property
    def running(self) -> bool:
        """Whether the application is up (``status == "running"``)."""
        return self.status == ApplicationStatus.RUNNING

    @property
    def failed(self) -> bool:
        """Whether the application ended ``failed``."""
        return self.status == ApplicationStatus.FAILED

    def __repr__(self) -> str:
        return f"Application(id={self.id!r}, name={self.name!r}, status={self.status!r})"


@dataclass(config=_CONFIG, repr=False)
class ApplicationLogs(ApiModel):
    """``client.applications.logs(app)``: the app's output lines and its build's outcome.

    ``lines`` are the last lines the application printed (the server keeps at most 1000),
    ``build_status`` the server's build state as sent (e.g. ``inProgress``, ``completed``,
    ``failed``), ``build_error`` why the build or start failed, ``build_log`` the build's log.
    """

    lines: list[str] = Field(default_factory=list, alias="logs")
    build_log: str | None = None
    build_status: str | None = None
    build_error: str | None = None

    def tail(self, count: int = 20) -> list[str]:
        """The last ``count`` output lines (all of them when there are fewer)."""
        return self.lines[-count:] if count > 0 else []

    def __repr__(self) -> str:
        return (
            f"ApplicationLogs(lines={len(self.lines)}, build_status={self.build_status!r}, "
            f"build_error={self.build_error!r})"
        )


@dataclasses.dataclass(frozen=True)
class LaunchStep:
    """One progress event of ``client.applications.create`` and ``client.launch``.

    Every ``on_status`` callback of those calls receives these, one stream across both stages,
    in order: ``stage`` is one of ``enums.LaunchStage``: ``source`` (making the source from
    the template), ``build`` (creating and building the application: the server's build is in
    progress), ``start`` (built; the application starts and does not answer yet), then exactly
    one final ``running`` or ``failed`` step (no final step when the wait times out or was not
    asked for). ``status`` is the server's raw value at that moment (a job status such as
    ``RUNNING`` during ``source``, the application's ``status`` after), ``message`` one line
    for people, ``elapsed`` the seconds since the call started. ``source`` and ``application``
    are the entities as last seen, once they exist.

    Callbacks run on the calling thread, between polls; they must not block for long.
    """

    stage: str
    status: str
    message: str
    elapsed: float
    source: ApplicationSource | None = None
    application: Application | None = None

    @property
    def done(self) -> bool:
        """Whether this is the last step (``running`` or ``failed``)."""
        return self.stage in ("running", "failed")
