"""What handlers read from ``request.app.state``, as FastAPI dependencies.

``app.py`` puts the services there once; a handler names what it needs by type
(``store: StoreDep``) and FastAPI hands it over, so every router is a module-level object.
The dependencies are ``async``: FastAPI would run plain functions on a worker thread, a hop
per request for reading an attribute.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dr_notebook.sandbox.api.middleware import Stats
from dr_notebook.sandbox.service.applications import Applications
from dr_notebook.sandbox.settings import BehaviourSettings
from dr_notebook.sandbox.store.database import Store
from dr_notebook.sandbox.store.sources import SourceStore


async def _store(request: Request) -> Store:
    return request.app.state.store


async def _sources(request: Request) -> SourceStore:
    return request.app.state.sources


async def _applications(request: Request) -> Applications:
    return request.app.state.applications


async def _behaviour(request: Request) -> BehaviourSettings:
    return request.app.state.behaviour


async def _stats(request: Request) -> Stats:
    return request.app.state.stats


StoreDep = Annotated[Store, Depends(_store)]
SourcesDep = Annotated[SourceStore, Depends(_sources)]
ApplicationsDep = Annotated[Applications, Depends(_applications)]
BehaviourDep = Annotated[BehaviourSettings, Depends(_behaviour)]
StatsDep = Annotated[Stats, Depends(_stats)]
