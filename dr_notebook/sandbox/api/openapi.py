"""The OpenAPI document: hand-written form bodies and the bearer security scheme."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dr_notebook.sandbox.service.validation import RESOURCE_BUNDLE_IDS


def template_form_body(required: tuple[str, ...]) -> dict[str, Any]:
    """The request body of template create/update: multipart form fields."""
    text = {"type": "string"}
    properties: dict[str, Any] = {
        "name": {**text, "maxLength": 255},
        "description": {**text, "maxLength": 10000},
        "templateType": {**text, "maxLength": 255},
        "templateSubType": {**text, "maxLength": 255},
        "defaultEnvironment": {
            **text,
            "description": "JSON: {environmentId, environmentVersionId}",
        },
        "defaultResourceBundleId": {"type": "string", "enum": RESOURCE_BUNDLE_IDS},
        "enabled": {"type": "string", "enum": ["true", "false"]},
        "templateMetadata": {**text, "description": "JSON: readme, tags, resourceBundleIds, ..."},
        "publisher": {**text, "maxLength": 255},
        "category": {**text, "maxLength": 255},
        "file": {"type": "string", "format": "binary", "description": "zip, tar.gz or one file"},
    }
    schema = {"type": "object", "properties": properties, "required": list(required)}
    return {
        "required": bool(required),
        "content": {
            "multipart/form-data": {"schema": schema},
            "application/x-www-form-urlencoded": {"schema": schema},
        },
    }


def install_openapi(app: FastAPI) -> None:
    """Describe the bearer-token security every endpoint uses."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            doc.setdefault("components", {})["securitySchemes"] = {
                "BearerAuth": {"type": "http", "scheme": "bearer"}
            }
            doc["security"] = [{"BearerAuth": []}]
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def json_body(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON request body with these properties (routes read it themselves)."""
    schema = {"type": "object", "properties": properties, "required": list(required)}
    return {"required": bool(required), "content": {"application/json": {"schema": schema}}}


_TEXT = {"type": "string", "maxLength": 300}
_RESOURCES = {
    "type": "object",
    "properties": {
        "replicas": {"type": "integer"},
        "resourceLabel": {"type": "string"},
        "sessionAffinity": {"type": "boolean"},
        "serviceWebRequestsOnRootPath": {"type": "boolean"},
    },
}
_RUNTIME_VALUES = {
    "description": "[{fieldName, type, value}], or that list as JSON text",
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}],
}
_RUNTIME_CURRENT = {
    "description": "[{fieldName, type, currentValue}] (the newer form), or its JSON text",
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}],
}
SOURCE_BODY = json_body({"name": _TEXT, "resources": _RESOURCES})
VERSION_CREATE_BODY = json_body(
    {
        "label": _TEXT,
        "baseVersion": _TEXT,
        "baseEnvironmentId": _TEXT,
        "baseEnvironmentVersionId": _TEXT,
        "resources": _RESOURCES,
        "runtimeParameterValues": _RUNTIME_VALUES,
        "runtimeParameters": _RUNTIME_CURRENT,
    }
)
_VERSION_SETTINGS = {
    "baseEnvironmentId": _TEXT,
    "baseEnvironmentVersionId": _TEXT,
    "resources": _RESOURCES,
    "runtimeParameterValues": _RUNTIME_VALUES,
    "runtimeParameters": _RUNTIME_CURRENT,
}
VERSION_PATCH_BODY: dict[str, Any] = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    **_VERSION_SETTINGS,
                    "filesToDelete": {"type": "array", "items": {"type": "string"}},
                },
            }
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "filePath": {"type": "array", "items": {"type": "string"}},
                    "archive": {"type": "string", "format": "binary"},
                    "resources": {"type": "string", "description": "JSON object"},
                },
            }
        },
    }
}
APPLICATION_CREATE_BODY = json_body(
    {
        "name": _TEXT,
        "applicationSourceId": _TEXT,
        "applicationSourceVersionId": _TEXT,
        "environmentId": _TEXT,
        "envVersionId": _TEXT,
        "resources": _RESOURCES,
    }
)
APPLICATION_PATCH_BODY = json_body(
    {
        "name": _TEXT,
        "customApplicationSourceVersionId": _TEXT,
        "externalAccessEnabled": {"type": "boolean"},
        "externalAccessRecipients": {"type": "array", "items": {"type": "string"}},
        "allowAutoStopping": {"type": "boolean"},
        "resources": _RESOURCES,
    }
)
