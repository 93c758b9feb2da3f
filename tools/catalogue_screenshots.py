"""Draw the small screenshot each demo catalogue template's README shows (docs/screenshot.png).

Run once after adding a template: ``.venv/bin/python tools/catalogue_screenshots.py``. Each image
is a mock of the app (its name over a chart in the template's style), a few KiB, deterministic.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import yaml

CATALOGUE = Path(__file__).resolve().parents[1] / "dr_notebook" / "sandbox" / "catalogue"
SIZE_PX, DPI = (400, 225), 50
ACCENTS = {
    "customApplicationTemplate": "#1976d2",
    "customMetricTemplate": "#2e7d32",
    "customJobTemplate": "#6a1b9a",
}


def draw(spec: dict, seed: int, path: Path) -> None:
    rng = np.random.default_rng(seed)
    accent = ACCENTS.get(spec.get("templateType", ""), "#455a64")
    fig = plt.figure(figsize=(SIZE_PX[0] / DPI, SIZE_PX[1] / DPI), dpi=DPI)
    fig.patch.set_facecolor("#f5f5f5")
    fig.text(0.03, 0.9, spec["name"], fontsize=15, weight="bold", color=accent)
    fig.text(0.03, 0.82, spec.get("templateSubType") or spec["templateType"], fontsize=10,
             color="#616161")  # fmt: skip
    ax = fig.add_axes((0.08, 0.12, 0.88, 0.62))
    x = np.arange(12)
    if seed % 3 == 0:
        ax.bar(x, rng.integers(3, 20, size=12), color=accent)
    elif seed % 3 == 1:
        ax.plot(x, np.cumsum(rng.normal(1, 2, size=12)), color=accent, linewidth=2.5)
    else:
        ax.scatter(rng.normal(size=40), rng.normal(size=40), color=accent, s=18)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)


def main() -> int:
    for spec_path in sorted(CATALOGUE.glob("*/template.yaml")):
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
        seed = int(hashlib.sha256(spec_path.parent.name.encode()).hexdigest()[:8], 16)
        target = spec_path.parent / "files" / "docs" / "screenshot.png"
        draw(spec, seed, target)
        print(f"{target.relative_to(CATALOGUE)}: {target.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
