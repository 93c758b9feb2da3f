"""The gallery's runtime-parameter form: one input per type, defaults, required marks, validity,
and credentials kept out of widget state (what a saved notebook would hold)."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import ipywidgets as widgets
from ipywidgets.embed import embed_data

from dr_notebook.gallery.parameters import MAX_FIELDS, ParameterForm
from dr_notebook.gallery.ui import walk
from dr_notebook.resources.parameters import parse_metadata
from dr_notebook.sandbox.service.parameters import CREDENTIAL_MASK

METADATA = """\
runtimeParameterDefinitions:
  - fieldName: MODEL_NAME
    type: string
    allowEmpty: false
    description: The model to ask.
  - fieldName: SYSTEM_PROMPT
    type: string
    defaultValue: Be brief.
  - fieldName: TEMPERATURE
    type: numeric
    defaultValue: 0.2
    minValue: 0
    maxValue: 2
  - fieldName: STREAM
    type: boolean
    defaultValue: true
  - fieldName: API_KEY
    type: credential
    allowEmpty: false
    description: The <b>key</b>.
"""
SECRET = "sk-form-secret-8080"


def form_for(text: str = METADATA) -> tuple[ParameterForm, list[int]]:
    changes: list[int] = []
    form = ParameterForm(on_change=lambda: changes.append(1))
    form.prepare()
    form.show(parse_metadata(text))
    return form, changes


def shown_inputs(form: ParameterForm) -> list[str]:
    shown = []
    for row in form._rows[: len(form.definitions)]:
        kinds = [k for k, w in row.inputs.items() if w.layout.display != "none"]
        shown.append(kinds[0] if len(kinds) == 1 else str(kinds))
    return shown


def type_secret(form: ParameterForm, value: str, row: int = 4) -> None:
    """What the browser does when the password box loses focus: it sets the value."""
    form._rows[row].secret.set_state({"value": value})


def test_one_input_per_type_defaults_filled_required_marked() -> None:
    form, _ = form_for()
    assert shown_inputs(form) == ["text", "text", "number", "flag", "secret"]
    rows = form._rows
    assert rows[1].text.value == "Be brief." and rows[2].number.value == 0.2
    assert (rows[2].number.min, rows[2].number.max) == (0, 2)
    assert "(0 to 2)" in rows[2].label.value and rows[3].flag.value is True
    assert "MODEL_NAME</code> *" in rows[0].label.value
    assert "SYSTEM_PROMPT</code><br>" in rows[1].label.value  # not required: no mark
    assert "&lt;b&gt;key&lt;/b&gt;" in rows[4].label.value  # descriptions are escaped
    assert all(row.box.layout.display == "none" for row in rows[5:])
    assert form.box.layout.display is None


def test_launch_is_valid_only_with_every_required_value() -> None:
    form, changes = form_for()
    assert sorted(form.problems()) == ["API_KEY is required", "MODEL_NAME: must not be empty"]
    form._rows[0].text.value = "gpt"
    type_secret(form, SECRET)
    assert form.valid and changes
    assert form.values() == {"MODEL_NAME": "gpt", "API_KEY": SECRET}  # defaults not resent
    form._rows[3].flag.value = False
    form._rows[2].number.value = 1.5
    assert form.values()["STREAM"] is False and form.values()["TEMPERATURE"] == 1.5


def test_a_credential_never_stays_in_widget_state() -> None:
    form, _ = form_for()
    box = widgets.VBox([form.box])
    type_secret(form, SECRET)
    assert form.values()["API_KEY"] == SECRET
    # positive control: the secret is what the form holds, and state could carry text
    form._rows[0].text.value = "visible-model-name"
    state = json.dumps(embed_data(views=[box])["manager_state"])
    assert "visible-model-name" in state
    assert SECRET not in state
    assert all(SECRET not in repr(w.get_state()) for w in walk(box))
    assert "set (hidden)" in form._rows[4].secret.placeholder
    form.show(form.definitions)  # another template (or the same again): secrets forgotten
    assert "API_KEY" not in form.values()


def test_more_parameters_than_rows_are_said_and_no_parameters_hide_the_form() -> None:
    many = "runtimeParameterDefinitions:\n" + "".join(
        f"  - fieldName: P{i}\n    type: string\n" for i in range(MAX_FIELDS + 2)
    )
    form, _ = form_for(many)
    assert "2 more not shown" in form.title.value
    form.show([])
    assert form.box.layout.display == "none" and form.valid and form.values() == {}


def test_show_from_a_worker_creates_no_widget() -> None:
    form, _ = form_for()
    created: list[str] = []
    widgets.Widget.on_widget_constructed(lambda w: created.append(type(w).__name__))
    try:
        worker = threading.Thread(target=form.show, args=(parse_metadata(METADATA),))
        worker.start()
        worker.join()
        assert created == []
        widgets.Label()  # positive control: a construction is seen
    finally:
        widgets.Widget._widget_construction_callback = None
    assert "Label" in created


def test_the_detail_pane_asks_for_the_parameters_before_launch(client: Any) -> None:
    from dr_notebook.gallery import TemplateGallery

    gallery = TemplateGallery(client, page_size=4)
    try:
        assert gallery.wait(30)
        nim = client.templates.resolve("NIM-hosted LLM Chat")
        gallery.selected_id = nim.id
        pane = gallery.detail_pane
        names = [p.field_name for p in pane.parameters.definitions]
        assert names == ["NIM_BASE_URL", "NIM_API_KEY", "DEFAULT_TEMPERATURE"]
        assert pane.launch_button.disabled
        assert "NIM_API_KEY is required" in (pane.launch_button.tooltip or "")
        assert not pane.create_button.disabled  # a source needs no parameters
        type_secret(pane.parameters, SECRET, row=1)
        assert not pane.launch_button.disabled
        app = gallery.launch_app(name=f"nim-{uuid.uuid4().hex[:6]}")
        version = client.app_sources.version(app.source_id, app.source_version_id)
        values = {p.field_name: p.current_value for p in version.runtime_parameters}
        assert values["NIM_API_KEY"] == CREDENTIAL_MASK  # set (and not shown)
        state = json.dumps(embed_data(views=[gallery])["manager_state"])
        assert SECRET not in state and all(SECRET not in repr(w.get_state()) for w in walk(gallery))
        client.applications.delete(app)
        flask = client.templates.resolve("Flask App Base")
        gallery.selected_id = flask.id
        assert [p.field_name for p in pane.parameters.definitions] == ["DEPLOYMENT_ID", "APP_TITLE"]
        assert not pane.launch_button.disabled
    finally:
        gallery.close()
