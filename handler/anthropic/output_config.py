"""Anthropic's `output_config` on Gemini: the answer's format and the effort.

- `format: {"type": "json_schema", "schema": {...}}` (structured outputs; `output_format`,
  its first beta name, too) -> `responseMimeType: application/json` with the schema as
  Gemini's JSON-schema answer, through the same helper as OpenAI's answer formats: the
  answer's text is the JSON. Another format type would change what the client gets
  back, so it is a 400 that names it, not a silent drop.
- `effort` (low, medium, high, max) -> a thinking level through `translate.thinking`
  (`max` asks for the most, as OpenAI's `xhigh`), clamped there to what the model
  takes. It sets the thinking only where the request left it to the model (`thinking`
  absent or `adaptive`); next to `enabled` with a budget or `disabled`, the explicit
  thinking wins and the effort is named in `x-proxy-dropped`. Without `thinking`, the
  effort sets how much Gemini thinks, but no thoughts come back the client did not ask for.
- Any other `output_config` field is dropped and named.
"""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest
from ..translate.dropped import Dropped
from ..translate.params import answer_format
from ..translate.thinking import thinking_config

EFFORTS = {"low": "low", "medium": "medium", "high": "high", "max": "xhigh", "xhigh": "xhigh"}
KNOWN = frozenset({"format", "effort"})


def _output_config(body: dict[str, Any]) -> dict[str, Any]:
    given = body.get("output_config")
    if given is not None and not isinstance(given, dict):
        raise BadRequest("output_config must be an object.", "output_config")
    return given or {}


def apply_format(body: dict[str, Any], config: dict[str, Any], dropped: Dropped) -> None:
    """The answer format into Gemini's generationConfig `config`; unknown fields named."""
    output = _output_config(body)
    for name in output:
        if name not in KNOWN:
            dropped.add(f"output_config.{name}")
    given, param = output.get("format"), "output_config.format"
    if given is None and body.get("output_format") is not None:
        given, param = body["output_format"], "output_format"
    if given is None:
        return
    if not isinstance(given, dict):
        raise BadRequest(f"{param} must be an object.", param)
    kind = given.get("type")
    if kind != "json_schema":
        raise BadRequest(
            f"{param}.type {kind!r} cannot be honoured on Gemini (it would change what the answer is): only "
            "json_schema, which Gemini answers as JSON of the schema.",
            f"{param}.type",
        )
    answer_format(kind, given.get("schema"), param, config)


def effort_thinking(body: dict[str, Any], thinking_type: Any, model: str, dropped: Dropped) -> dict[str, Any] | None:
    """The thinkingConfig the effort asks for, or None when there is none to apply."""
    effort = _output_config(body).get("effort")
    if effort is None:
        return None
    level = EFFORTS.get(effort) if isinstance(effort, str) else None
    if level is None or thinking_type not in (None, "adaptive"):
        dropped.add("output_config.effort", effort)
        return None
    config = thinking_config(level, model, "output_config.effort")
    if config is not None and thinking_type is None:
        config.pop("includeThoughts", None)
    return config
