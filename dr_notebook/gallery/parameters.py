"""The detail pane's runtime-parameter form: one row per parameter the template declares.

Text for strings, a number box held to its range, a checkbox for booleans, a password box for
credentials; defaults filled in, required ones marked. The rows are created once, in the
face's thread (:meth:`ParameterForm.prepare`); filling them for a template (:meth:`show`) only
sets values, so a worker may do it through the gallery's guard.

A credential never stays in widget state: the password box sends its text when it loses focus
or Enter is pressed, the form keeps it in a private dict and empties the box at once, so a
saved notebook's widget state holds ``""``, never the secret.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from dr_notebook.errors import RuntimeParameterError
from dr_notebook.models import RuntimeParameter
from dr_notebook.resources.parameters import check_values

__all__ = ["MAX_FIELDS", "ParameterForm"]

#: Parameters the form shows; a template with more says so (and cannot launch from here
#: while one of the rest is required).
MAX_FIELDS = 12
_NUMBER_LIMIT = 1e15
_INPUT = {"layout": {"flex": "1 1 220px", "min_width": "140px"}}


class _Row:
    """The widgets of one parameter row; the one matching the parameter's type is shown."""

    def __init__(self, on_change: Callable[[Any], None]) -> None:
        self.label = widgets.HTML(value="", layout={"width": "220px"})
        self.text = widgets.Text(value="", **_INPUT)
        self.number = widgets.BoundedFloatText(
            value=0.0, min=-_NUMBER_LIMIT, max=_NUMBER_LIMIT, **_INPUT
        )
        self.flag = widgets.Checkbox(value=False, indent=False)
        self.secret = widgets.Password(value="", continuous_update=False, **_INPUT)
        self.inputs: dict[str, widgets.DOMWidget] = {
            "text": self.text,
            "number": self.number,
            "flag": self.flag,
            "secret": self.secret,
        }
        for widget in self.inputs.values():
            widget.observe(on_change, names="value")
        self.box = widgets.HBox(
            [self.label, *self.inputs.values()],
            layout=widgets.Layout(display="none", flex_flow="row wrap", align_items="center"),
        )


def _kind(parameter: RuntimeParameter) -> str:
    return {"numeric": "number", "boolean": "flag", "credential": "secret"}.get(
        parameter.type, "text"
    )


class ParameterForm:
    """The runtime parameters of the selected template, as a form.

    ``on_change`` is called (in the thread that changed a value) after every edit, to let the
    pane enable or disable Launch. :meth:`values` gives what to launch with; :meth:`problems`
    what stops it (empty: valid).
    """

    def __init__(self, on_change: Callable[[], object] | None = None) -> None:
        self._on_change = on_change
        self._rows: list[_Row] = []
        self._shown: list[RuntimeParameter] = []
        self._initial: dict[str, Any] = {}
        self._secrets: dict[str, str] = {}
        self._filling = False
        self.title = widgets.HTML(value="")
        self.box = widgets.VBox([self.title], layout=widgets.Layout(display="none"))

    # --- building and filling -------------------------------------------------------------

    def prepare(self) -> None:
        """Create the rows (once; call it from the face's thread, before :meth:`show`)."""
        if self._rows:
            return
        self._rows = [_Row(self._changed) for _ in range(MAX_FIELDS)]
        self.box.children = [self.title, *(row.box for row in self._rows)]

    @property
    def definitions(self) -> list[RuntimeParameter]:
        """The parameters shown (all the template declares)."""
        return list(self._shown)

    def show(self, definitions: list[RuntimeParameter]) -> None:
        """Fill the form for these parameters (none: hide it); defaults filled in, secrets
        forgotten. Sets values only: safe from a worker under the gallery's guard."""
        self._filling = True
        try:
            self._shown = list(definitions)
            self._secrets.clear()
            self._initial = {}
            for index, row in enumerate(self._rows):
                if index < len(definitions):
                    self._fill(row, definitions[index])
                else:
                    row.box.layout.display = "none"
            hidden = len(definitions) - len(self._rows)
            more = f" ({hidden} more not shown: pass them in code)" if hidden > 0 else ""
            self.title.value = (
                f"<b>Runtime parameters</b> <small>(* required){html.escape(more)}</small>"
            )
            self.box.layout.display = None if definitions else "none"
        finally:
            self._filling = False
        self._changed(None)

    def _fill(self, row: _Row, parameter: RuntimeParameter) -> None:
        kind = _kind(parameter)
        mark = " *" if parameter.required else ""
        about = html.escape((parameter.description or "") + _range(parameter, kind))
        row.label.value = (
            f"<code>{html.escape(parameter.field_name)}</code>{mark}<br><small>{about}</small>"
        )
        for name, widget in row.inputs.items():
            widget.layout.display = None if name == kind else "none"
        default = parameter.default_value
        if kind == "number":
            row.number.min = (
                parameter.min_value if parameter.min_value is not None else -_NUMBER_LIMIT
            )
            row.number.max = (
                parameter.max_value if parameter.max_value is not None else _NUMBER_LIMIT
            )
            row.number.value = _number(default, row.number.min)
            self._initial[parameter.field_name] = row.number.value
        elif kind == "flag":
            row.flag.value = bool(default) if default is not None else False
            self._initial[parameter.field_name] = row.flag.value
        elif kind == "secret":
            row.secret.value = ""
            row.secret.placeholder = "type it, then Enter (kept out of the notebook)"
            self._initial[parameter.field_name] = None
        else:
            row.text.value = "" if default is None else str(default)
            row.text.placeholder = parameter.description or parameter.field_name
            self._initial[parameter.field_name] = row.text.value
        row.box.layout.display = "flex"

    # --- reading --------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """The values to launch with: those changed from their defaults, and the credentials
        typed (a required text left empty is sent empty, for :meth:`problems` to name)."""
        chosen: dict[str, Any] = {}
        for row, parameter in zip(self._rows, self._shown, strict=False):
            name = parameter.field_name
            kind = _kind(parameter)
            if kind == "secret":
                if name in self._secrets:
                    chosen[name] = self._secrets[name]
                continue
            value = {"text": row.text, "number": row.number, "flag": row.flag}[kind].value
            if value != self._initial.get(name) or (parameter.required and value == ""):
                chosen[name] = value
        return chosen

    def problems(self) -> list[str]:
        """What stops a launch with :meth:`values` (empty: the form is valid)."""
        if not self._shown:
            return []
        try:
            check_values(self._shown, self.values(), what="the template")
        except RuntimeParameterError as err:
            missing = [f"{p.field_name} is required" for p in err.missing]
            return [*err.problems, *missing]
        return []

    @property
    def valid(self) -> bool:
        """Whether Launch may go ahead."""
        return not self.problems()

    # --- events ---------------------------------------------------------------------------

    def _changed(self, change: Any) -> None:
        if change is not None and self._take_secret(change):
            return
        if not self._filling and self._on_change is not None:
            self._on_change()

    def _take_secret(self, change: Any) -> bool:
        """Move a typed credential out of widget state; True when the change was the clearing."""
        owner = change["owner"]
        for row, parameter in zip(self._rows, self._shown, strict=False):
            if owner is row.secret:
                if change["new"]:
                    self._secrets[parameter.field_name] = change["new"]
                    owner.value = ""  # the widget (and any saved state) keeps nothing
                    owner.placeholder = "set (hidden); type again to replace"
                    return True
                return False
        return False


def _range(parameter: RuntimeParameter, kind: str) -> str:
    """The range of a number, as the end of its label ("" for other kinds)."""
    low, high = parameter.min_value, parameter.max_value
    if kind != "number" or (low is None and high is None):
        return ""
    if low is not None and high is not None:
        return f" ({low:g} to {high:g})"
    return f" (at least {low:g})" if low is not None else f" (at most {high:g})"


def _number(value: Any, fallback: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return max(0.0, fallback)
