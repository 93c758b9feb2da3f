"""The API's vocabulary: template types, order-by values, resource bundles and statuses.

Values are plain strings (``str`` enums compare equal to them), so they can be passed wherever
the API takes text. Models accept values not listed here: the server may know more than this.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "APPLICATION_ORDER_BY",
    "APPLICATION_TEMPLATE",
    "FAILED_JOB_STATUSES",
    "RESOURCE_BUNDLE_IDS",
    "SOURCE_ORDER_BY",
    "TEMPLATE_ORDER_BY",
    "TEMPLATE_SUB_TYPES",
    "TEMPLATE_TYPE_LABELS",
    "ApplicationStatus",
    "JobStatus",
    "LaunchStage",
    "TemplateType",
    "expand_template_type",
    "known_template_types",
    "order_by_value",
]


class _Vocabulary(str, Enum):
    """A string enum whose members are their values (``str()``, f-strings, comparisons)."""

    def __str__(self) -> str:
        return self.value


class TemplateType(_Vocabulary):
    """``templateType``: what a template is the starting point of."""

    APPLICATION = "customApplicationTemplate"
    METRIC = "customMetricTemplate"
    JOB = "customJobTemplate"


APPLICATION_TEMPLATE = TemplateType.APPLICATION.value

#: Short labels for the known template types (unknown types show as sent).
TEMPLATE_TYPE_LABELS: dict[str, str] = {
    TemplateType.APPLICATION.value: "application",
    TemplateType.METRIC.value: "metric",
    TemplateType.JOB.value: "job",
}


def expand_template_type(value: str | None) -> str | None:
    """The ``templateType`` a person means: short names and case-insensitive spellings of the
    known types expand (``"application"``, ``"app"`` -> ``customApplicationTemplate``); any
    other value is returned as given (the API takes any text, the server may know more types).
    """
    if not value:
        return value
    wanted = value.strip().casefold()
    for full, label in TEMPLATE_TYPE_LABELS.items():
        if wanted in (full.casefold(), label):
            return full
    by_prefix = [full for full, label in TEMPLATE_TYPE_LABELS.items() if label.startswith(wanted)]
    return by_prefix[0] if len(by_prefix) == 1 else value


def known_template_types() -> str:
    """The known types with their short names, for messages and help texts."""
    return ", ".join(f"{full} ({label})" for full, label in TEMPLATE_TYPE_LABELS.items())


#: ``templateSubType`` values known per template type (others are accepted as sent).
TEMPLATE_SUB_TYPES: dict[str, tuple[str, ...]] = {
    TemplateType.APPLICATION.value: (
        "streamlit",
        "flask",
        "dash",
        "gradio",
        "fastapi",
        "nodejs",
        "NIM_CONTAINERS",
    ),
    TemplateType.METRIC.value: ("regression", "binary", "multiclass", "llm", "timeseries"),
    TemplateType.JOB.value: ("retraining", "notification", "batch", "batchPrediction", "dataPrep"),
}

#: ``orderBy`` values of ``GET customTemplates/`` ("-" sorts descending).
TEMPLATE_ORDER_BY: tuple[str, ...] = (
    "name",
    "-name",
    "createdAt",
    "-createdAt",
    "templateType",
    "-templateType",
    "templateSubType",
    "-templateSubType",
)

#: ``orderBy`` values of ``GET customApplicationSources/``.
SOURCE_ORDER_BY: tuple[str, ...] = (
    "name",
    "-name",
    "createdAt",
    "-createdAt",
    "updatedAt",
    "-updatedAt",
)

#: ``orderBy`` values of ``GET customApplications/``.
APPLICATION_ORDER_BY: tuple[str, ...] = SOURCE_ORDER_BY


def order_by_value(value: str, allowed: tuple[str, ...]) -> str | None:
    """The ``orderBy`` value among ``allowed`` that ``value`` names, None if none does.

    Fields may be written in snake_case or camelCase, in any case (``created_at``,
    ``-createdAt``); a leading ``-`` sorts descending.
    """
    text = value.strip()
    descending = text.startswith("-")
    wanted = text.removeprefix("-").replace("_", "").casefold()
    for field in allowed:
        if field.startswith("-") == descending and field.removeprefix("-").casefold() == wanted:
            return field
    return None


#: Resource bundle ids a template may name (``defaultResourceBundleId``, ``resourceBundleIds``).
RESOURCE_BUNDLE_IDS: tuple[str, ...] = (
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
)


class JobStatus(_Vocabulary):
    """``status`` of an asynchronous job (``GET status/{id}/``)."""

    INITIALIZED = "INITIALIZED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    EXPIRED = "EXPIRED"


#: Job statuses that end a job without a result.
FAILED_JOB_STATUSES: frozenset[str] = frozenset(
    {JobStatus.ERROR.value, JobStatus.ABORTED.value, JobStatus.EXPIRED.value}
)


class ApplicationStatus(_Vocabulary):
    """``status`` of a custom application.

    ``running`` and ``failed`` end a wait; any other value (``building``, ``stopped``, values
    this list does not know) means "not ready yet". Models keep unknown values as sent.
    """

    BUILDING = "building"
    RUNNING = "running"
    FAILED = "failed"
    STOPPED = "stopped"


class LaunchStage(_Vocabulary):
    """``stage`` of a :class:`~dr_notebook.models.LaunchStep`: where a launch has got to.

    ``source`` (the source is being made from the template), ``build`` (the application is
    being created and built), ``start`` (built, starting up), then ``running`` or ``failed``.
    """

    SOURCE = "source"
    BUILD = "build"
    START = "start"
    RUNNING = "running"
    FAILED = "failed"
