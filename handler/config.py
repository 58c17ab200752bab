"""Settings, read once from the environment and checked before the first request.

Every variable is documented in the README with its default. A bad value stops the
process at start with a message that names the variable, instead of failing later
inside a request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable."""


def split_list(value: str | None) -> tuple[str, ...]:
    """Comma-separated values, trimmed, without empties or duplicates, order kept."""
    if not value:
        return ()
    seen: dict[str, None] = {}
    for item in value.split(","):
        item = item.strip()
        if item:
            seen.setdefault(item, None)
    return tuple(seen)


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum:g}, not {raw!r}")
    return value


def _aliases(raw: str | None) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for pair in split_list(raw):
        name, sep, target = pair.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise ConfigError(f"MODEL_ALIASES entries must look like name=gemini-model, not {pair!r}")
        aliases[name.strip()] = target.strip()
    return aliases


def _namespace(raw: str | None) -> str:
    value = (raw or "GeminiEdgeProxy").strip()
    if not re.fullmatch(r"[A-Za-z0-9._/#:-]{1,255}", value) or value.startswith("AWS/"):
        raise ConfigError(f"METRICS_NAMESPACE must be a CloudWatch namespace such as GeminiEdgeProxy, not {raw!r}")
    return value


def _base_url(raw: str | None) -> str:
    """PUBLIC_BASE_URL: this proxy's own URL as clients reach it (resumable uploads)."""
    value = (raw or "").strip().rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise ConfigError(f"PUBLIC_BASE_URL must start with http:// or https://, not {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    base_url: str = DEFAULT_BASE_URL
    api_keys: tuple[str, ...] = ()
    access_tokens: tuple[str, ...] = ()
    allow_client_keys: bool = True
    keys_secret_arn: str = ""
    keys_refresh_seconds: float = 300.0
    connect_timeout: float = 10.0
    read_timeout: float = 600.0
    cors_origins: tuple[str, ...] = ("*",)
    log_level: str = "INFO"
    max_attempts: int = 3
    replay_limit: int = 8 * 1024 * 1024
    max_body_bytes: int = 6 * 1024 * 1024
    heartbeat_seconds: float = 15.0
    # Model settings name a family (resolved from the live model list: docs/models.md)
    # or a model; a family is never a version that Google will retire.
    default_model: str = "flash"
    model_aliases: dict[str, str] = field(default_factory=dict)
    image_model: str = "image"  # for OpenAI image model names (docs/images-and-speech.md)
    tts_model: str = "tts"  # for OpenAI speech model names
    model_list_seconds: float = 3600.0  # how long the upstream's model list is cached
    metrics: bool = True  # EMF records in the access log (handler/metrics.py)
    metrics_namespace: str = "GeminiEdgeProxy"
    fleet_metrics: bool = False  # the status page reads CloudWatch (handler/fleet.py)
    public_base_url: str = ""
    trust_forwarded_headers: bool = False
    compaction_secret: str = field(
        default="", repr=False
    )  # seals Responses compaction items (docs/responses-and-codex.md)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        base_url = (env.get("GEMINI_BASE_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"GEMINI_BASE_URL must start with http:// or https://, not {base_url!r}")
        log_level = (env.get("LOG_LEVEL") or "INFO").strip().upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {log_level!r}")
        return cls(
            base_url=base_url,
            api_keys=split_list(env.get("GEMINI_API_KEYS")),
            access_tokens=split_list(env.get("ACCESS_TOKENS")),
            allow_client_keys=_bool(env, "ALLOW_CLIENT_KEYS", True),
            keys_secret_arn=(env.get("KEYS_SECRET_ARN") or "").strip(),
            keys_refresh_seconds=_number(env, "KEYS_REFRESH_SECONDS", 300.0),
            connect_timeout=_number(env, "CONNECT_TIMEOUT", 10.0, minimum=0.1),
            read_timeout=_number(env, "READ_TIMEOUT", 600.0, minimum=0.1),
            cors_origins=split_list(env.get("CORS_ORIGINS", "*")) or ("*",),
            log_level=log_level,
            max_attempts=int(_number(env, "MAX_ATTEMPTS", 3, minimum=1)),
            replay_limit=int(_number(env, "REPLAY_LIMIT_BYTES", 8 * 1024 * 1024)),
            max_body_bytes=int(_number(env, "MAX_BODY_BYTES", 6 * 1024 * 1024, minimum=1024)),
            heartbeat_seconds=_number(env, "HEARTBEAT_SECONDS", 15.0, minimum=0.1),
            default_model=(env.get("DEFAULT_MODEL") or cls.default_model).strip(),
            model_aliases=_aliases(env.get("MODEL_ALIASES")),
            image_model=(env.get("IMAGE_MODEL") or cls.image_model).strip(),
            tts_model=(env.get("TTS_MODEL") or cls.tts_model).strip(),
            model_list_seconds=_number(env, "MODEL_LIST_SECONDS", 3600.0, minimum=1.0),
            metrics=_bool(env, "METRICS", True),
            metrics_namespace=_namespace(env.get("METRICS_NAMESPACE")),
            fleet_metrics=_bool(env, "FLEET_METRICS", False),
            public_base_url=_base_url(env.get("PUBLIC_BASE_URL")),
            trust_forwarded_headers=_bool(env, "TRUST_FORWARDED_HEADERS", False),
            compaction_secret=(env.get("COMPACTION_SECRET") or "").strip(),
        )
