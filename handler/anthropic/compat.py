"""Forward compatibility on the Messages route (docs/forward-compatibility.md): what a
new Claude client sends that this proxy does not translate is dropped and named in
`x-proxy-dropped`, never a 400 by itself.

- Server tools: `web_search_*` -> Gemini's Google Search, `web_fetch_*` -> URL context,
  `code_execution_*` -> code execution; any other typed tool (`advisor_20260301`,
  `bash_*`, `text_editor_*`, `computer_*`, `memory_*`, `tool_search_tool_*`,
  `mcp_toolset`, a type released tomorrow) is dropped. Anthropic-defined client tools
  carry no schema to declare, so they cannot become functions either.
- Top-level fields: those the translator reads, and those that need nothing from
  Gemini (`metadata`, `service_tier`, `cache_control`, ...), pass quietly; every other
  field (`context_management`, `container`, `mcp_servers`, `speed`, a new one) is
  dropped and named. A field whose meaning would change the answer's contract and that
  cannot be honoured is refused where it is read (an `output_config.format` type other
  than `json_schema`).
- Betas (`anthropic-beta`): never sent to Google; a beta whose feature this proxy gives
  (or that needs nothing from Gemini) passes quietly, any other is named
  (`anthropic-beta:context-management-2025-06-27`), since the client asked for a
  behaviour it will not get.
"""

from __future__ import annotations

from typing import Any

from ..translate.dropped import Dropped

SERVER_TOOLS = (
    ("web_search_", "googleSearch"),
    ("web_fetch_", "urlContext"),
    ("code_execution_", "codeExecution"),
)
READ = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "output_format",  # structured outputs' first (beta) name for output_config.format
    }
)
# Nothing to do on Gemini: billing and routing hints, Anthropic's own cache markers.
QUIET = frozenset({"metadata", "service_tier", "cache_control", "anthropic_version", "anthropic_beta", "betas"})
# Betas whose feature this proxy gives, or which ask nothing of the model (prefixes,
# so that a new date of the same beta passes too).
HONOURED_BETAS = (
    "claude-code-",
    "interleaved-thinking-",
    "fine-grained-tool-streaming-",
    "token-efficient-tools-",
    "structured-outputs-",
    "effort-",
    "thinking-token-count-",
    "prompt-caching-",
    "extended-cache-ttl-",
    "mid-conversation-system-",
    "web-search-",
    "web-fetch-",
    "code-execution-",
    "files-api-",
    "pdfs-",
    "output-128k-",
    "context-1m-",
    "oauth-",
)


def server_tool(kind: str) -> str | None:
    """The Gemini built-in tool an Anthropic server tool type maps to, if any."""
    return next((gemini for prefix, gemini in SERVER_TOOLS if kind.startswith(prefix)), None)


def fields(body: dict[str, Any], dropped: Dropped) -> None:
    """Name each top-level field that is neither read nor quietly ignorable."""
    for name in body:
        if name not in READ and name not in QUIET:
            dropped.add(name)


def betas(header: str | None, dropped: Dropped) -> None:
    """Name each beta of the `anthropic-beta` header this proxy does not give."""
    for beta in (header or "").split(","):
        beta = beta.strip()
        if beta and not beta.startswith(HONOURED_BETAS):
            dropped.add("anthropic-beta", beta)
