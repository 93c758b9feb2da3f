"""The ipywidgets template gallery: ``drn.TemplateGallery``."""

from dr_notebook.gallery.widget import TemplateGallery

__all__ = ["TemplateGallery"]
