"""What every API entity shares: tolerant parsing from the server's JSON, ``extra``, ``to_api``.

A value that is null or cannot be read as its declared type falls back to the field's default,
and an unreadable item of a list is left out of the list (see ``dr_notebook.models``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any, ClassVar, TypeVar

from pydantic import ConfigDict, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

__all__ = ["MODEL_CONFIG", "ApiModel", "CardRenderer", "parse_timestamp", "use_card_renderer"]

M = TypeVar("M", bound="ApiModel")
#: Draws an entity as an HTML card, or None when it has no card.
CardRenderer = Callable[["ApiModel"], "str | None"]


def _no_card(entity: ApiModel) -> str | None:
    return None


_card_renderer: CardRenderer = _no_card


def use_card_renderer(renderer: CardRenderer) -> None:
    """Make ``renderer`` draw every entity's ``_repr_html_`` (``dr_notebook.cards`` calls it)."""
    global _card_renderer
    _card_renderer = renderer


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
#: The pydantic configuration of every entity dataclass in ``models``.
MODEL_CONFIG = ConfigDict(
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

    def _repr_html_(self) -> str | None:
        # Jupyter's display protocol: an entity shows as its card (``dr_notebook.cards``
        # installs the drawing when it loads; the client loads it) in any notebook, with or
        # without %load_ext. Entities have no card until then: models never import cards.
        return _card_renderer(self)

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
