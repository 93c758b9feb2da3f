"""Page assembly benchmark: a list page of 100 stored templates, spliced vs decoded/re-encoded.

The sandbox stores each template as the JSON text the API sends. A page can put those texts
into its ``data`` array as they are (``spliced_page``), or decode them and encode the page
again (the obvious way). Both give the same document; this prints what each costs.

    .venv/bin/python benchmarks/page_splice.py [--repeat 300]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from dr_notebook.sandbox.api.routing import spliced_page
from dr_notebook.sandbox.catalogue.loader import generate, load_catalogue
from dr_notebook.sandbox.store.database import Store, TemplateQuery


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.db")
        store.insert_templates(load_catalogue())
        store.insert_templates(generate(2000, seed=1))
        bodies, total = store.list_template_bodies(TemplateQuery(limit=100))
        store.close()
    envelope = {"count": len(bodies), "totalCount": total, "next": "http://h/?offset=100",
                "previous": None}  # fmt: skip

    def decoded() -> str:
        page = {**envelope, "data": [json.loads(b) for b in bodies]}
        return json.dumps(page, ensure_ascii=False, separators=(",", ":"))

    def spliced() -> str:
        return spliced_page(envelope, bodies)

    assert json.loads(spliced()) == json.loads(decoded())
    timings = {}
    for name, build in (("spliced", spliced), ("decoded + re-encoded", decoded)):
        start = time.perf_counter()
        for _ in range(args.repeat):
            build()
        timings[name] = (time.perf_counter() - start) / args.repeat
        print(f"{name:>22}: {timings[name] * 1e6:8.1f} us a page of {len(bodies)}")
    ratio = timings["decoded + re-encoded"] / timings["spliced"]
    print(f"splicing is {ratio:.0f}x cheaper")


if __name__ == "__main__":
    main()
