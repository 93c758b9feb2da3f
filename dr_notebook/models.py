"""The API's entities, declared once as pydantic dataclasses.

Each model maps the server's camelCase keys to snake_case attributes, coerces values to the
declared types (``5`` -> ``"5"`` for a text field, ``"false"`` -> ``False`` for a flag) and keeps
the fields it does not name in ``extra`` (camelCase, as the server sent them).

Parsing is tolerant, by one rule: a value that is null or cannot be read as its declared type
falls back to the field's default, and an unreadable item of a list is left out of the list.
One odd field never makes a whole listing fail.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from pydantic import AliasChoices, Field, field_validator
from pydantic.dataclasses import dataclass

from dr_notebook.api_model import MODEL_CONFIG, ApiModel, parse_timestamp
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
    "failure_reason",
    "parse_timestamp",
    "use_app_display",
]

#: Draws ``Application.show`` (``dr_notebook.app_display`` installs it; models import no face).
_app_display: Callable[..., Any] | None = None


def use_app_display(show: Callable[..., Any]) -> None:
    """Make ``show`` draw every ``Application.show`` (``dr_notebook.app_display`` calls it)."""
    global _app_display
    _app_display = show


@dataclass(config=MODEL_CONFIG, repr=False, slots=True)
class DefaultEnvironment(ApiModel):
    """The execution environment a template starts from."""

    _shown = ("environment_id", "environment_version_id")

    environment_id: str | None = None
    environment_version_id: str | None = None


@dataclass(config=MODEL_CONFIG, repr=False, slots=True)
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

    @property
    def local_launch_blocker(self) -> str:
        """Why the template's app cannot run in a local sandbox ("" when it can): the sandbox's
        ``localLaunch: {supported: false, reason}`` (DataRobot itself sends no such field)."""
        local = self.extra.get("localLaunch")
        if not isinstance(local, dict) or local.get("supported", True) is not False:
            return ""
        return str(local.get("reason") or "it cannot run in a local sandbox")


@dataclass(config=MODEL_CONFIG, repr=False, slots=True)
class TemplateFile(ApiModel):
    """One file of a template; ``content`` is filled only by ``client.templates.file()``."""

    _shown = ("id", "name")

    id: str = ""
    # The template's file list says "name", the file body "filename".
    name: str = Field(default="", validation_alias=AliasChoices("name", "filename"))
    content: str | None = None


@dataclass(config=MODEL_CONFIG, repr=False, slots=True)
class Template(ApiModel):
    """A custom template: an application, custom metric or custom job starting point."""

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
    def local_launch_blocker(self) -> str:
        """Why the template's app cannot run in a local sandbox ("" when it can)."""
        return self.metadata.local_launch_blocker

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


@dataclass(config=MODEL_CONFIG, repr=False, slots=True)
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


@dataclass(config=MODEL_CONFIG, repr=False, slots=True)
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


@dataclass(config=MODEL_CONFIG, repr=False, slots=True)
class _Authored(ApiModel):
    """Who made an entity and when (shared by sources and their versions)."""

    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None
    creator_first_name: str | None = None
    creator_last_name: str | None = None
    creator_userhash: str | None = None
    user_id: str | None = None


@dataclass(config=MODEL_CONFIG, repr=False, slots=True)
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


@dataclass(config=MODEL_CONFIG, repr=False, slots=True)
class ApplicationSource(_Authored):
    """A custom application source, as created from a template."""

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


@dataclass(config=MODEL_CONFIG, repr=False, slots=True)
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


@dataclass(config=MODEL_CONFIG, repr=False)
class Application(_Authored):
    """A custom application: a source version built and run, opened at ``application_url``.

    ``status`` is the server's value as sent (see ``enums.ApplicationStatus``; values it does
    not list are kept, not rejected). ``source_id`` and ``source_version_id`` are what it runs.
    """

    id: str = ""
    name: str = ""
    status: str = ""
    application_url: str | None = None
    source_id: str | None = Field(default=None, alias="customApplicationSourceId")
    source_version_id: str | None = Field(default=None, alias="customApplicationSourceVersionId")
    #: The latest version of its source, as the client last read it (not an API field: filled
    #: by ``client.applications.get``, ``frame`` and ``drift``); None when not read.
    latest_source_version_id: str | None = None
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

    def show(self, mode: str | None = None, height: int = 650, *, client: Any = None) -> Any:
        """The application in the notebook: ``inline`` (an iframe under a bar with its name,
        status, Reload and Open in a new tab), ``tab`` (a link opening a new tab) or
        ``external`` (the plain URL); None: ``%config DataRobotMagics.app_display``
        (``inline`` unless set). With ``client``, one request first reads whether the app lets
        itself be framed; one that refuses is shown as a link with the reason. Returns a
        display object (HTML in Jupyter, one line in a terminal).
        """
        if _app_display is None:  # loaded by name: the face imports the models, not back
            importlib.import_module("dr_notebook.app_display")
        assert _app_display is not None
        return _app_display(self, mode, height, client=client)

    @property
    def outdated(self) -> bool | None:
        """Whether its source has a newer version than the one it runs (True, False), or None
        when that is not known (its source's latest version was not read, or it names no
        version). ``client.applications.update(app, source_version="latest")`` moves it."""
        if not self.latest_source_version_id or not self.source_version_id:
            return None
        return self.latest_source_version_id != self.source_version_id

    def __repr__(self) -> str:
        return f"Application(id={self.id!r}, name={self.name!r}, status={self.status!r})"


@dataclass(config=MODEL_CONFIG, repr=False)
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

    @property
    def first_error(self) -> str | None:
        """The first error the logs show, one line: the last line of the first traceback
        (``ValueError: bad config``), else the first line that reads as an error (``Error:``,
        ``ERROR``, ``fatal:``, ``... failed``; of a reason that names its own first error,
        ``... First error: X``, the X); None when none does.

        The build log is read first (before the output) unless the build completed: a
        completed build's log is pip's chatter, not the application's failure. ANSI colour
        codes are removed."""
        build = (self.build_log or "").splitlines() if self.build_status != "completed" else []
        return first_error_line([*build, *self.lines])

    @property
    def reason(self) -> str:
        """Why it failed, said once: ``build_error`` without what ``lines`` and
        ``first_error`` already show (see :func:`failure_reason`); "" when nothing else is
        left, or there is no build error."""
        return failure_reason(self.build_error, self.lines, self.first_error)

    def matching(self, text: str) -> ApplicationLogs:
        """A copy keeping only the lines of ``lines`` and of ``build_log`` that contain
        ``text``, ignoring case (``first_error`` then reads what is kept)."""
        needle = text.casefold()
        kept = copy.copy(self)  # extra fields too
        kept.lines = [line for line in self.lines if needle in line.casefold()]
        if self.build_log:
            build = [ln for ln in self.build_log.splitlines() if needle in ln.casefold()]
            kept.build_log = "\n".join(build)
        return kept

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


_TRACEBACK = "Traceback (most recent call last):"
# Lines that read as an error: an exception's line (ValueError: ..., KeyboardInterrupt), a
# tool's prefix (error: / fatal: / panic:), a logger's level in capitals, the sandbox's reason.
_ERROR_PREFIX = re.compile(
    r"^(?:[\w.]*(?:Error|Exception)\b(?::|$)|(?:error|fatal|panic)\b\s*[:!]"
    r"|failed to\b|.*\bexited with code [1-9])",
    re.IGNORECASE,
)
_ERROR_LEVEL = re.compile(r"\b(?:ERROR|CRITICAL|FATAL)\b")


_FIRST_ERROR_CLAUSE = "First error: "


def failure_reason(build_error: str | None, output: Sequence[str], first_error: str | None) -> str:
    """``build_error`` without what is shown beside it: its lines that are lines of
    ``output``, a ``First error: ...`` clause naming ``first_error`` (or a line that is it),
    then any header left introducing nothing (a last line ending in ``:``), so that a failure
    shown with its logs says each line once. Line breaks are kept; "" when nothing is left."""
    from dr_notebook.ansi import strip_ansi

    if not build_error:
        return ""
    shown = {strip_ansi(line).strip() for line in output}
    first = (first_error or "").strip()
    kept: list[str] = []
    for line in build_error.splitlines():
        head, found, rest = line.partition(_FIRST_ERROR_CLAUSE)
        if found and first and _names(rest.strip(), first):
            line = head
        text = strip_ansi(line).strip()
        if text and text not in shown and text != first:
            kept.append(line.rstrip())
    while kept and kept[-1].endswith(":"):
        kept.pop()
    return "\n".join(kept).strip()


def _names(clause: str, first: str) -> bool:
    """Whether a ``First error:`` clause names ``first`` (the sandbox cuts long ones: [...])."""
    cut = clause.removesuffix(" [...]")
    return clause == first or (cut != clause and first.startswith(cut))


def first_error_line(lines: list[str]) -> str | None:
    """The last line of the first traceback in ``lines``, else the first line that reads as
    an error (see :attr:`ApplicationLogs.first_error`), stripped of ANSI codes."""
    from dr_notebook.ansi import strip_ansi

    clean = [strip_ansi(line).rstrip() for line in lines]
    for index, line in enumerate(clean):
        if line.strip() != _TRACEBACK:
            continue
        indent = len(line) - len(line.lstrip())
        for after in clean[index + 1 :]:
            if after.strip() and len(after) - len(after.lstrip()) <= indent:
                return after.strip()
        break  # a traceback cut short: fall back to the first error-like line
    for line in clean:
        text = line.strip()
        if text and (_ERROR_PREFIX.match(text) or _ERROR_LEVEL.search(text)):
            # A reason that names its own first error (the sandbox's "... First error: X").
            return text.partition(_FIRST_ERROR_CLAUSE)[2].strip() or text
    return None
