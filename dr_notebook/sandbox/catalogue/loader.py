"""The demo catalogue (data files in ``catalogue/``) and the synthetic template generator."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from dr_notebook.sandbox.service.validation import RESOURCE_BUNDLE_IDS, normalize_metadata
from dr_notebook.sandbox.store.database import NewTemplate, new_id

CATALOGUE_DIR = Path(__file__).parent


class CatalogueError(ValueError):
    """A catalogue entry cannot be loaded; the message names the file."""


def load_catalogue(directory: Path = CATALOGUE_DIR) -> list[NewTemplate]:
    """Every ``<slug>/template.yaml`` (with README.md and files/) under ``directory``, by slug."""
    if not directory.is_dir():
        return []
    return [_load_entry(path.parent) for path in sorted(directory.glob("*/template.yaml"))]


def _load_entry(folder: Path) -> NewTemplate:
    spec_path = folder / "template.yaml"
    try:
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(f"{spec_path}: {exc}") from None
    if not isinstance(spec, dict):
        raise CatalogueError(f"{spec_path}: expected a mapping at the top level")
    for key in ("name", "description", "templateType"):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise CatalogueError(f"{spec_path}: {key} is required")
    metadata = dict(spec.get("templateMetadata") or {})
    _check_page_marker(spec_path, metadata.get("pageMarker"))
    files: list[tuple[str, bytes]] = []
    readme = folder / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        metadata["readme"] = text
        files.append(("README.md", text.encode("utf-8")))
    content_dir = folder / "files"
    if content_dir.is_dir():
        for path in sorted(p for p in content_dir.rglob("*") if p.is_file()):
            name = path.relative_to(content_dir).as_posix()
            if name != "README.md" or not readme.is_file():
                files.append((name, path.read_bytes()))
    environment = spec.get("defaultEnvironment") or {}
    return NewTemplate(
        name=spec["name"].strip(),
        description=spec["description"].strip(),
        template_type=spec["templateType"],
        template_sub_type=spec.get("templateSubType"),
        enabled=bool(spec.get("enabled", True)),
        default_resource_bundle_id=spec.get("defaultResourceBundleId"),
        default_environment={
            "environmentId": str(environment.get("environmentId", "")),
            "environmentVersionId": str(environment.get("environmentVersionId", "")),
        },
        template_metadata=normalize_metadata(metadata),
        publisher=spec.get("publisher"),
        category=spec.get("category"),
        files=files,
    )


def _check_page_marker(spec_path: Path, marker: Any) -> None:
    """``pageMarker``: text the working page contains, or ``{path, text}`` (a framework endpoint
    under the application's link, for single-page apps whose HTML shell is generic)."""
    if marker is None or (isinstance(marker, str) and marker):
        return
    if (
        isinstance(marker, dict)
        and set(marker) == {"path", "text"}
        and all(isinstance(marker[k], str) and marker[k] for k in ("path", "text"))
        and not marker["path"].startswith("/")
    ):
        return
    raise CatalogueError(
        f"{spec_path}: templateMetadata.pageMarker must be a text or {{path, text}} "
        "(a path relative to the application's link)"
    )


# -- synthetic templates --------------------------------------------------------------------------
_KINDS: list[tuple[str, float, list[str], list[str]]] = [
    (
        "customApplicationTemplate",
        0.6,
        ["streamlit", "flask", "nodejs", "gradio", "dash", "fastapi"],
        ["App", "Dashboard", "Assistant", "Portal", "Explorer", "Chat"],
    ),
    (
        "customMetricTemplate",
        0.25,
        ["regression", "binary", "multiclass", "llm", "timeseries"],
        ["Metric", "Score", "Drift Check", "Quality Gauge"],
    ),
    (
        "customJobTemplate",
        0.15,
        ["retraining", "notification", "batchPrediction", "dataPrep"],
        ["Job", "Pipeline", "Scheduler", "Runner"],
    ),
]
_ADJECTIVES = [
    "Adaptive",
    "Agile",
    "Bright",
    "Calm",
    "Clear",
    "Crisp",
    "Deep",
    "Eager",
    "Fast",
    "Fluent",
    "Global",
    "Keen",
    "Lean",
    "Lucid",
    "Nimble",
    "Precise",
    "Quick",
    "Robust",
    "Sharp",
    "Smart",
    "Steady",
    "Swift",
    "Tidy",
    "Vivid",
    "Wise",
]
_TOPICS = [
    "Churn",
    "Demand",
    "Fraud",
    "Inventory",
    "Lead",
    "Loan",
    "Pricing",
    "Risk",
    "Sales",
    "Sentiment",
    "Supply",
    "Support",
    "Energy",
    "Claims",
    "Credit",
    "Marketing",
    "Retention",
    "Logistics",
    "Forecast",
    "Anomaly",
    "Document",
    "Invoice",
    "Ticket",
]
_TAGS = [
    "python",
    "streamlit",
    "flask",
    "react",
    "llm",
    "genai",
    "rag",
    "chat",
    "forecasting",
    "timeseries",
    "monitoring",
    "drift",
    "fairness",
    "nlp",
    "vision",
    "batch",
    "scheduling",
    "slack",
    "teams",
    "dashboard",
    "starter",
    "enterprise",
    "beta",
]
_PUBLISHERS = ["DataRobot", "DataRobot Labs", "Community", "Acme Analytics", "Partner Network"]
_CATEGORIES = [
    "Generative AI",
    "Forecasting",
    "Monitoring",
    "Data Apps",
    "Integrations",
    "MLOps",
    "Starter Kits",
]


def generate(count: int, seed: int | None = None) -> list[NewTemplate]:
    """``count`` varied synthetic templates (types, sub-types, tags, publishers, categories)."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    return [_synthetic(rng, now, index) for index in range(count)]


def _synthetic(rng: random.Random, now: datetime, index: int) -> NewTemplate:
    template_type, _, sub_types, nouns = rng.choices(_KINDS, weights=[k[1] for k in _KINDS])[0]
    sub_type = rng.choice(sub_types)
    topic = rng.choice(_TOPICS)
    name = f"{rng.choice(_ADJECTIVES)} {topic} {rng.choice(nouns)} {index + 1:05d}"
    tags = sorted({*rng.sample(_TAGS, rng.randint(1, 4)), sub_type.lower()})
    publisher = rng.choice(_PUBLISHERS)
    category = rng.choice(_CATEGORIES)
    description = (
        f"A {sub_type} {template_type.removeprefix('custom').removesuffix('Template').lower()} "
        f"template for {topic.lower()} use cases, published by {publisher}."
    )
    readme = _readme(name, description, tags, sub_type)
    created = now - timedelta(seconds=rng.randint(0, 365 * 24 * 3600))
    bundles = rng.sample(RESOURCE_BUNDLE_IDS[:8], 2)
    files = [("README.md", readme.encode()), *_files_for(template_type, sub_type, name)]
    return NewTemplate(
        name=name,
        description=description,
        template_type=template_type,
        template_sub_type=sub_type,
        enabled=rng.random() > 0.05,
        default_resource_bundle_id=bundles[0],
        default_environment={"environmentId": new_id(), "environmentVersionId": new_id()},
        template_metadata=normalize_metadata(
            {
                "readme": readme,
                "tags": tags,
                "resourceBundleIds": bundles,
                "source": {"generator": "dr-notebook sandbox", "index": index + 1},
            }
        ),
        publisher=publisher,
        category=category,
        files=files,
        created_at=created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )


def _readme(name: str, description: str, tags: list[str], sub_type: str) -> str:
    tag_list = "\n".join(f"- `{t}`" for t in tags)
    return (
        f"# {name}\n\n{description}\n\n## Tags\n\n{tag_list}\n\n"
        f"## Run it\n\n```bash\npip install -r requirements.txt\n```\n\n"
        f"| Setting | Value |\n|---|---|\n| Sub-type | {sub_type} |\n"
    )


def _files_for(template_type: str, sub_type: str, name: str) -> list[tuple[str, bytes]]:
    entry: dict[str, Any] = {
        "customApplicationTemplate": ("app.py", f'print("{name}")\n'),
        "customMetricTemplate": ("custom.py", "def score(data, model):\n    return 0.0\n"),
        "customJobTemplate": ("job.py", "def run():\n    return None\n"),
    }
    filename, code = entry[template_type]
    return [(filename, code.encode()), ("requirements.txt", f"# {sub_type}\nrequests\n".encode())]
