"""Help and missing-extra messages: plain text a person reads in a terminal."""

from __future__ import annotations

import sys

import pytest
from IPython.core.magic_arguments import parse_argstring

from dr_notebook.cli import main
from dr_notebook.magics import DataRobotMagics
from dr_notebook.magics._options import plain_help


def test_sandbox_without_its_extra_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed
    assert main(["sandbox", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'dr-notebook[sandbox]'" in err and "uvicorn" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["dr_new_app", "dr_template", "dr_app"])
def test_magic_help_is_plain_and_shows_the_id_or_name_as_required(name: str) -> None:
    magic = getattr(DataRobotMagics, name)
    text = plain_help(magic)
    assert "``" not in text and "::" not in text
    usage = " ".join(text.split("\n\n", 1)[0].split())
    assert usage.endswith("ID_OR_NAME [ID_OR_NAME ...]"), usage
    assert "[ID_OR_NAME ...]" not in usage.removesuffix("ID_OR_NAME [ID_OR_NAME ...]")
    # The parser still takes no words: the magic itself then says what it needs.
    assert parse_argstring(magic, "").__dict__
