"""The template magics: ``%dr_templates``, ``%dr_template`` (and the card it shows),
``%dr_gallery``."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from dr_notebook.errors import NoMatchWarning
from dr_notebook.magics._base import MagicsBase
from dr_notebook.magics._options import ORDER_HELP, TYPE_HELP, unquote, user_errors

if TYPE_CHECKING:
    import pandas as pd

    from dr_notebook.models import Template

_CARDS_WITH_IMAGES = 8


@magics_class
class TemplateMagics(MagicsBase):
    """``%dr_templates``, ``%dr_template``, ``%dr_gallery``."""

    @line_magic
    @magic_arguments()
    @argument("--search", metavar="TEXT", help="Text to look for in names and descriptions.")
    @argument("--tag", metavar="TAG", help="Only templates with this tag.")
    @argument("--type", dest="template_type", metavar="TYPE", help=TYPE_HELP)
    @argument("--subtype", dest="template_sub_type", metavar="SUB", help="e.g. streamlit, llm.")
    @argument("--publisher", metavar="P", help="Only templates from this publisher.")
    @argument("--category", metavar="C", help="Only templates of this category.")
    @argument("--order-by", dest="order_by", metavar="FIELD", help=ORDER_HELP)
    @argument("--limit", type=int, metavar="N", help="At most N templates.")
    @argument("--readme", action="store_true", help="Keep the (long) readme column.")
    @argument("-o", "--output", metavar="VAR", help="Also store the full DataFrame in VAR.")
    @user_errors
    def dr_templates(self, line: str = "") -> pd.DataFrame:
        """The template catalogue as a DataFrame (one row per template).

        When no template has the type or sub-type asked for, a line under the empty frame
        names the values that exist.
        """
        args = parse_argstring(self.dr_templates, line)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NoMatchWarning)
            frame = self.client.templates.frame(
                search=unquote(args.search),
                tag=unquote(args.tag),
                template_type=unquote(args.template_type),
                template_sub_type=unquote(args.template_sub_type),
                publisher=unquote(args.publisher),
                category=unquote(args.category),
                order_by=unquote(args.order_by),
                limit=args.limit,
                progress=self.progress,
            )
        for warning in caught:
            if issubclass(warning.category, NoMatchWarning):
                self._print_after_cell(str(warning.message))
            else:
                warnings.showwarning(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
        self._store(args.output, frame)
        if args.readme or "readme" not in frame.columns:
            return frame
        return frame.drop(columns="readme")

    @line_magic
    @magic_arguments()
    @argument("template", nargs="*", metavar="ID_OR_NAME", help="Template id or exact name.")
    @argument("-o", "--output", metavar="VAR", help="Also store the Template in VAR.")
    @user_errors
    def dr_template(self, line: str = "") -> Template:
        """One template: its card with the README rendered inline."""
        args = parse_argstring(self.dr_template, line)
        template = self._resolve(args.template, "%dr_template")
        self._keep_card_images(template)
        self._store(args.output, template)
        return template

    def _keep_card_images(self, template: Template) -> None:
        from dr_notebook.readme_images import file_bytes, readme_images

        client = self.client
        images = readme_images(
            template, lambda item: file_bytes(client.templates.file(template.id, item.id))
        )
        if images:
            self._card_images[id(template)] = (template, images)
            while len(self._card_images) > _CARDS_WITH_IMAGES:
                del self._card_images[next(iter(self._card_images))]

    def template_card(self, template: Template) -> str:
        """A template's HTML card, with the README images ``%dr_template`` fetched for it."""
        from dr_notebook.cards import template_html

        kept = self._card_images.get(id(template))
        return template_html(template, kept[1] if kept and kept[0] is template else None)

    @line_magic
    @magic_arguments()
    @argument("--type", dest="template_type", metavar="TYPE", help=TYPE_HELP)
    @user_errors
    def dr_gallery(self, line: str = "") -> Any:
        """The template gallery widget."""
        args = parse_argstring(self.dr_gallery, line)
        from dr_notebook.gallery import TemplateGallery

        return TemplateGallery(self.client, template_type=args.template_type)
