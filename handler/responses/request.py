"""A Responses API request -> a Gemini generateContent request.

Stateless by design: the proxy stores nothing, so a request must carry its whole
conversation in `input` (as Codex and the Agents SDK send it with `store: false`).
`previous_response_id`, `conversation`, `prompt` (a stored prompt) and `background`
need stored state and are a 400 that says so; `store: true` is accepted and answered,
but nothing is kept. Unknown top-level fields are ignored (Codex's `client_metadata`,
`prompt_cache_retention`, `service_tier`, `safety_identifier` change nothing Gemini
does; `prompt_cache_key` names the session: keys/session.py); tools and input items of
types this proxy cannot map are dropped and named in `x-proxy-dropped`.

An `input` that ends in a `compaction_trigger` item asks for a compaction
(compaction.py): the conversation before it goes to Gemini with a request for a
summary, without tools, and the answer is one `compaction` item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..errors import BadRequest
from ..translate import params
from ..translate.dropped import ordered
from ..translate.models import resolve_model
from ..translate.thinking import gemini_version, needs_signatures, thinking_config
from ..translate.tools import DEFAULT_SAFETY
from .compaction import PROMPT, TRIGGER
from .functions import Tools, parse_tools, tool_config
from .items import Contents, Secrets

STATELESS = "This proxy stores no responses or conversations (it is stateless): send the whole conversation in input."
NEEDS_STATE = ("previous_response_id", "conversation", "prompt")
SUMMARIES = frozenset({"auto", "concise", "detailed"})
# Request fields echoed in the response object, with OpenAI's defaults.
ECHOED: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "temperature": 1.0,
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "truncation": "disabled",
    "user": None,
    "store": True,
}


@dataclass
class ResponsesCall:
    """What the route needs to call Gemini and to shape the answer."""

    model: str
    payload: dict[str, Any]
    stream: bool
    tools: Tools
    encrypted: bool  # include reasoning.encrypted_content
    parallel: bool
    echo: dict[str, Any] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)  # x-proxy-dropped entries
    compact: bool = False  # answer one compaction item (compaction.py)
    kept: list[dict[str, Any]] = field(default_factory=list)  # /responses/compact: the user messages kept
    secrets: list[bytes] = field(default_factory=list, repr=False)  # seal and open compaction items


async def to_gemini(
    body: dict[str, Any], settings: Settings, secrets: Secrets | None = None, compact: bool = False
) -> ResponsesCall:
    """`secrets` gives the compaction secrets (only asked for when needed); `compact`:
    the /responses/compact route (the whole input is compacted, the answer is whole)."""
    for name in NEEDS_STATE:
        if body.get(name) is not None:
            raise BadRequest(f"{name} is not supported. {STATELESS}", name)
    if body.get("background") is True:
        raise BadRequest(f"background is not supported. {STATELESS}", "background")
    model, search = resolve_model(body.get("model"), settings)
    builder = Contents(settings, needs_signatures(model), secrets)
    route_compact = compact
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise BadRequest("instructions must be a string.", "instructions")
        if instructions:
            builder.system.append({"text": instructions})
    given = body.get("input")
    if isinstance(given, list) and given and isinstance(given[-1], dict) and given[-1].get("type") == TRIGGER:
        given, compact = given[:-1], True
    await _add_input(builder, given, compact)
    system, contents = builder.finish()
    if compact:
        contents.append({"role": "user", "parts": [{"text": PROMPT}]})
    if not contents:
        raise BadRequest("input has no user content to answer.", "input")

    payload: dict[str, Any] = {"contents": contents}
    if system:
        payload["systemInstruction"] = {"parts": system}
    tools = parse_tools(body.get("tools"))
    for where, more in builder.more_tools:
        parse_tools(more, tools, where)
    tools.search = tools.search or search
    gemini_tools = tools.gemini_tools(model)
    if gemini_tools and not compact:  # a summary is text: no tool calls
        payload["tools"] = gemini_tools
    config = tool_config(body.get("tool_choice"), tools)
    if config and not compact:
        payload["toolConfig"] = config
    payload["safetySettings"] = DEFAULT_SAFETY
    generation = _generation_config(body if not compact else {"reasoning": body.get("reasoning")}, model)
    if generation:
        payload["generationConfig"] = generation
    include = body.get("include")
    encrypted = isinstance(include, list) and "reasoning.encrypted_content" in include
    echo = {name: body[name] if body.get(name) is not None else default for name, default in ECHOED.items()}
    echo["text"] = body.get("text") if isinstance(body.get("text"), dict) else {"format": {"type": "text"}}
    echo["reasoning"] = (
        body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {"effort": None, "summary": None}
    )
    return ResponsesCall(
        model=model,
        payload=payload,
        stream=body.get("stream") is True and not route_compact,
        tools=tools,
        encrypted=encrypted,
        parallel=body.get("parallel_tool_calls") is not False,
        echo=echo,
        dropped=ordered(builder.dropped + tools.dropped),
        compact=compact,
        secrets=await secrets() if compact and secrets else [],
        kept=_user_messages(given) if route_compact else [],
    )


def _user_messages(given: Any) -> list[dict[str, Any]]:
    """The user messages of an input, as /responses/compact keeps them."""
    if isinstance(given, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": given}]}]
    return [
        {"type": "message", **item}
        for item in given
        if isinstance(item, dict) and item.get("role") == "user" and item.get("type", "message") == "message"
    ]


async def _add_input(builder: Contents, given: Any, compact: bool) -> None:
    if isinstance(given, str):
        if not given:
            raise BadRequest("input must not be empty.", "input")
        await builder.add({"type": "message", "role": "user", "content": given}, 0)
        return
    if not isinstance(given, list) or not (given or compact):
        raise BadRequest("input is required: a string or a non-empty list of input items.", "input")
    for i, item in enumerate(given):
        await builder.add(item, i)


def _generation_config(body: dict[str, Any], model: str) -> dict[str, Any]:
    sampling = {
        "maxOutputTokens": params.integer(body.get("max_output_tokens"), "max_output_tokens", 1),
        "temperature": params.number(body.get("temperature"), "temperature", 0, 2),
        "topP": params.number(body.get("top_p"), "top_p", 0, 1),
    }
    config: dict[str, Any] = {key: value for key, value in sampling.items() if value is not None}
    _text_format(body.get("text"), config)
    thinking = _thinking(body.get("reasoning"), model)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _thinking(reasoning: Any, model: str) -> dict[str, Any] | None:
    """`reasoning.effort` -> thinking budget or level (decision 7); a `summary` asks for
    thoughts to be included (they come back as reasoning summaries)."""
    if reasoning is None:
        return None
    if not isinstance(reasoning, dict):
        raise BadRequest("reasoning must be an object.", "reasoning")
    config = thinking_config(reasoning.get("effort"), model, "reasoning.effort")
    summary = reasoning.get("summary", reasoning.get("generate_summary"))
    thinks = (gemini_version(model) or (0, 0)) >= (2, 5)
    if summary in SUMMARIES and thinks and reasoning.get("effort") != "none":
        config = {**(config or {}), "includeThoughts": True}
    return config


def _text_format(text: Any, config: dict[str, Any]) -> None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if fmt is not None:
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        params.answer_format(kind, fmt.get("schema") if isinstance(fmt, dict) else None, "text.format", config)
