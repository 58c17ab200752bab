"""What the app keeps on `app.state` for its whole life, read from a request's scope.

One home for these accessors, so that a module that needs the settings or the cooldown
does not import the module of some route to get them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import Scope

if TYPE_CHECKING:  # types only: the state is set by the app (app.py), not built here
    from .config import Settings
    from .keys.cooldown import Cooldown


def settings_of(scope: Scope) -> Settings:
    settings: Settings = scope["app"].state.settings
    return settings


def cooldown_of(scope: Scope) -> Cooldown:
    cooldown: Cooldown = scope["app"].state.cooldown
    return cooldown
