"""The sandbox keeps its own copy of the API's vocabulary (it imports nothing from the client
side, by design); these tests prove the two copies agree with ``dr_notebook/enums.py``."""

from __future__ import annotations

from dr_notebook import enums
from dr_notebook.sandbox import settings
from dr_notebook.sandbox.catalogue import loader as sandbox_demo
from dr_notebook.sandbox.service import applications as sandbox_applications
from dr_notebook.sandbox.service import sources, validation
from dr_notebook.sandbox.store import applications as application_store
from dr_notebook.sandbox.store import database as store


def with_descending(fields: object) -> set[str]:
    """``orderBy`` values: each sortable field, ascending and descending."""
    assert isinstance(fields, dict) and fields
    return {f"{sign}{field}" for field in fields for sign in ("", "-")}


def test_resource_bundles_agree() -> None:
    assert tuple(validation.RESOURCE_BUNDLE_IDS) == enums.RESOURCE_BUNDLE_IDS


def test_order_by_values_agree() -> None:
    assert with_descending(store.TEMPLATE_ORDER) == set(enums.TEMPLATE_ORDER_BY)
    assert with_descending(store.SOURCE_ORDER) == set(enums.SOURCE_ORDER_BY)
    assert with_descending(application_store.APPLICATION_ORDER) == set(enums.APPLICATION_ORDER_BY)


def test_template_types_and_sub_types_agree() -> None:
    assert sources.APP_TEMPLATE_TYPE == enums.APPLICATION_TEMPLATE
    kinds = {kind: sub_types for kind, _share, sub_types, _nouns in sandbox_demo._KINDS}
    assert set(kinds) == {t.value for t in enums.TemplateType} == set(enums.TEMPLATE_TYPE_LABELS)
    for kind, sub_types in kinds.items():
        assert set(sub_types) <= set(enums.TEMPLATE_SUB_TYPES[kind]), kind


def test_statuses_agree() -> None:
    job_statuses = {s.value for s in enums.JobStatus}
    assert set(settings.ASYNC_OUTCOMES) <= job_statuses
    assert set(settings.ASYNC_OUTCOMES) - {"COMPLETED"} == enums.FAILED_JOB_STATUSES
    application_statuses = {s.value for s in enums.ApplicationStatus}
    assert sandbox_applications.BUILDING == enums.ApplicationStatus.BUILDING
    assert set(application_store.LIVE_STATUSES) <= application_statuses


def test_a_changed_copy_is_caught() -> None:
    """Positive control: one bundle fewer, or one order field more, no longer agrees."""
    assert tuple(validation.RESOURCE_BUNDLE_IDS[:-1]) != enums.RESOURCE_BUNDLE_IDS
    extra = {**store.TEMPLATE_ORDER, "updatedAt": "t.updated_at"}
    assert with_descending(extra) != set(enums.TEMPLATE_ORDER_BY)
