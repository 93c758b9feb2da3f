"""The image files a template's README shows, picked for ``render_markdown``.

``render_markdown`` fetches nothing; the faces that show a README (``%dr_template``, the gallery)
call ``readme_images`` with the files' bytes (a mapping, or a callable that fetches one file)
and pass the result on. Only raster images the README text names, found
among the template's own files, are fetched, at most ``MAX_README_IMAGES`` of them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Union

from dr_notebook.errors import DataRobotError
from dr_notebook.render import readme_image_path

if TYPE_CHECKING:
    from dr_notebook.models import Template, TemplateFile

__all__ = ["MAX_README_IMAGES", "ImageBytes", "file_bytes", "readme_images", "wanted_image_files"]

#: The template's file contents: ``{path: bytes}``, or a callable given one of the template's
#: files (its listing entry) that returns its bytes (None, or a ``DataRobotError``: left out).
ImageBytes = Union[Mapping[str, bytes], Callable[["TemplateFile"], Union[bytes, None]]]  # noqa: UP007

MAX_README_IMAGES = 20
"""At most this many image files are fetched for one README."""


def wanted_image_files(readme: str | None, file_names: Iterable[str]) -> list[str]:
    """The template's raster image files (by name) that the README text mentions."""
    if not readme:
        return []
    wanted = [name for name in file_names if readme_image_path(name) == name and name in readme]
    return wanted[:MAX_README_IMAGES]


def file_bytes(file: TemplateFile) -> bytes | None:
    """A fetched file's content as bytes (servers send binary files base64-encoded)."""
    if file.content is None:
        return None
    if str(file.extra.get("encoding", "")).lower() == "base64":
        try:
            return base64.b64decode(file.content, validate=True)
        except (binascii.Error, ValueError):
            return None
    return file.content.encode("utf-8")


def readme_images(template: Template, contents: ImageBytes) -> dict[str, bytes]:
    """``{path: bytes}`` of the image files ``template``'s README shows, taken from
    ``contents``; files that cannot be read are left out (the README then shows without them)."""
    wanted = set(wanted_image_files(template.readme, (f.name for f in template.files)))
    images: dict[str, bytes] = {}
    for item in template.files:
        if item.name not in wanted or item.name in images:
            continue
        if isinstance(contents, Mapping):
            data = contents.get(item.name)
        else:
            try:
                data = contents(item)
            except DataRobotError:
                continue
        if data is not None:
            images[item.name] = data
    return images
