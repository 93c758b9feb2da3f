"""Finding one entity by id or exact name, as ``%dr_template`` and ``%dr_app`` do."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from dr_notebook.errors import AmbiguousNameError, NotFoundError

_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


class Named(Protocol):
    id: str
    name: str


N = TypeVar("N", bound=Named)


def resolve_name(
    text: str,
    *,
    get: Callable[[str], N],
    search: Callable[[str], Sequence[N]],
    kind: str,
    every: Callable[[], Sequence[N]] | None = None,
) -> N:
    """The ``kind`` with the id ``text``, else the one named exactly ``text`` (case-insensitive).

    ``search(text)`` lists the candidates (a server-side name search). Raises ``NotFoundError``
    naming the closest names when none matches (from ``every()``, all of them, when the search
    finds none: a typo is not a substring), ``AmbiguousNameError`` (with ``candidates``) when
    several do.
    """
    if _OBJECT_ID.match(text):
        try:
            return get(text)
        except NotFoundError:
            pass
    candidates = search(text)
    wanted = text.casefold()
    exact = [c for c in candidates if c.name.strip().casefold() == wanted]
    if len(exact) == 1:
        return exact[0]
    if exact:
        ids = ", ".join(c.id for c in exact[:5])
        raise AmbiguousNameError(
            f"{len(exact)} {kind}s are named {text!r} ({ids}); use the id instead.",
            candidates=exact,
        )
    hint = ""
    if not candidates and every is not None:
        everything = {c.name.casefold(): c for c in every() if c.name}
        close = difflib.get_close_matches(wanted, list(everything), n=3, cutoff=0.6)
        candidates = [everything[name] for name in close]
    if candidates:
        # Names containing the text first, then the most similar ones.
        ranked = sorted(
            candidates,
            key=lambda c: (
                wanted not in c.name.casefold(),
                -difflib.SequenceMatcher(None, wanted, c.name.casefold()).ratio(),
            ),
        )
        hint = "; did you mean " + " or ".join(repr(c.name) for c in ranked[:3]) + "?"
    raise NotFoundError(f"No {kind} has the id or name {text!r}{hint}")
