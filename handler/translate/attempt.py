"""One translated call's way to a first answer from Gemini, so that models that change
under the proxy keep working (docs/models.md):

- fields the model refused before are left out before sending (translate.refusals);
- a 400 that names an optional field the proxy sent: sent once more without it;
- a model the proxy chose from a family (not one the client named) that answers 404
  (retired) or is not open to the key (403, a 429 with quota limit 0): the request is
  translated again for the next candidate of the family, at most `MAX_SWITCHES` times;
- a CONTINUATION hop goes back to the key that made its token.

What was left out or changed is named in `x-proxy-dropped` (`headers`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Scope

from ..catalog import families
from ..errors import ProxyError
from ..keys.credentials import Credentials
from ..keys.failover import Outcome
from . import dropped
from .long_decode import needs_stream, with_token
from .refusals import refusals_of

MAX_SWITCHES = 3  # models tried after the first one a family gave
Sender = Callable[[str, dict[str, Any], bool, Credentials], Awaitable[Outcome]]


class Attempt:
    def __init__(
        self,
        scope: Scope,
        creds: Credentials,
        call: Any,
        send: Sender,
        retranslate: Callable[[], Awaitable[Any]] | None = None,
        resolution: families.Resolution | None = None,
    ) -> None:
        self.scope = scope
        self.creds = creds
        self.call = call  # the protocol's call object (model, payload, ...): updated on a switch
        self.send = send  # (model, payload, streamed upstream, keys) -> the outcome after failover
        self.retranslate = retranslate
        self.resolution = resolution
        self.names: list[str] = []  # what this attempt dropped
        self.noted = dropped.current()  # what the translator noted
        self.streamed = False  # whether the last call was streamed upstream

    def headers(self) -> dict[str, str]:
        return dropped.header([*self.noted, *self.names, *getattr(self.call, "dropped", ())])

    async def first(self, streamed: bool | None) -> Outcome:
        """The first answer: failover, a refused field dropped, a family's next model.
        `streamed` None: a whole answer, streamed upstream only where the model needs it
        (`self.streamed` says how the last call went)."""
        refusals = refusals_of(self.scope["app"].state)
        retried = False
        switches = 0
        while True:
            call = self.call
            self.names.extend(refusals.apply(call.model, call.payload))
            self.streamed = needs_stream(call.model, call.payload) if streamed is None else streamed
            outcome = await self.send(call.model, call.payload, self.streamed, self.creds)
            error = outcome.error
            if outcome.ok or error is None:
                return outcome
            if error.status == 400 and not error.invalid_key and not retried:
                names = refusals.learn(call.model, error.message, call.payload)
                if names:
                    self.names.extend(names)
                    retried = True
                    continue
            if switches >= MAX_SWITCHES or not await self._switch(outcome):
                return outcome
            switches += 1

    async def _switch(self, outcome: Outcome) -> bool:
        """After a failure of a model a family gave: translate again for the next one."""
        resolution, model = self.resolution, self.call.model
        if resolution is None or self.retranslate is None or model not in resolution.chosen:
            return False
        assert outcome.error is not None
        if outcome.error.status == 404:
            resolution.families.retire(model)
        elif families.not_open(outcome.error, outcome.body):
            resolution.families.close(outcome.key, model)
        else:
            return False
        resolution.skipped.add(model)
        try:  # `retranslate` starts afresh (the request's media budget too)
            fresh = await families.translate(self.scope, resolution, self.creds, self.retranslate)
        except ProxyError:  # no other model left (or the list unreadable): the first failure stands
            return False
        if fresh.model == model:
            return False
        if dataclasses.is_dataclass(self.call) and type(fresh) is type(self.call):
            for one in dataclasses.fields(self.call):
                setattr(self.call, one.name, getattr(fresh, one.name))
        else:
            self.call = fresh
        return True

    async def hop(self, token: str, key: str, streamed: bool) -> Outcome:
        """The next long-decode hop, on the key that made `token`."""
        keys = Credentials((key,), pooled=self.creds.pooled, bound=True) if key else self.creds
        return await self.send(self.call.model, with_token(self.call.payload, token), streamed, keys)
