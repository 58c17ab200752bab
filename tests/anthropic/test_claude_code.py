"""Claude Code itself, headless (`claude -p ... --output-format stream-json`), against the
proxy and the fake Gemini: a plain prompt, a tool loop on Gemini 2.5 (Read), one on
Claude Code's default model, a Bash tool loop on Gemini 3 whose thought signature must
come back (the fake refuses the call otherwise, as Google does), and model discovery
(`GET /v1/models`, the claude-prefixed aliases).

Claude Code comes from `npm install` in the repository (package.json); the test is
skipped, with the reason, when it is not installed. Nothing leaves loopback: HOME is a
temporary directory, telemetry, error reports and updates are off, and HTTP(S)_PROXY
points at a closed loopback port with only 127.0.0.1 exempt, so any other connection
Claude Code might try fails instead of reaching the network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ..conftest import KEY_A
from ..fake_gemini import usage

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = ROOT / "node_modules" / ".bin" / "claude"
SIG = "CiQBcsjafE4kL9+/mCWQ0h2a5EN0ZXNpZ25hdHVyZS1ieXRlcw=="


def _claude() -> Path:
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed, so Claude Code cannot run")
    if not CLAUDE.exists():
        pytest.skip(
            "Claude Code is not installed; run `npm install` in the repository (package.json lists @anthropic-ai/claude-code)"
        )
    return CLAUDE


def event(parts: list[dict], model: str) -> dict:
    candidate = {"content": {"role": "model", "parts": parts}, "index": 0, "finishReason": "STOP"}
    return {"candidates": [candidate], "usageMetadata": usage(), "modelVersion": model}


def run(proxy: str, tmp_path: Path, prompt: str, *args: str, **more_env: str | None) -> list[dict]:
    """Claude Code's stream-json messages for one headless prompt (`more_env`: variables
    to add, or with None to leave out)."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": proxy,
        "ANTHROPIC_API_KEY": KEY_A,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    for name, value in more_env.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    command = [str(_claude()), "-p", prompt, "--output-format", "stream-json", "--verbose", *args]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "note.txt").write_text("the secret word is pelican\n")
    return tmp_path


def test_plain_prompt(proxy, fake, workdir):
    messages = run(proxy, workdir, "Say hello.", "--model", "sonnet")
    result = messages[-1]
    assert result["type"] == "result" and result["is_error"] is False and result["result"] == "Hello, world!"
    main = [c for c in fake.generate_calls if "streamGenerateContent" in c.path]
    assert main and all(c.path.startswith("/v1beta/models/gemini-2.5-") for c in fake.generate_calls)
    sent = main[-1].json
    assert sent["contents"][-1]["parts"][-1]["text"].endswith("Say hello.")
    assert {"Bash", "Read", "Edit"} <= {d["name"] for d in sent["tools"][0]["functionDeclarations"]}


def test_pings_before_gemini_answers(start_proxy, fake, workdir):
    """Long thinking: the proxy commits and sends `ping` before message_start."""
    url = start_proxy(HEARTBEAT_SECONDS="0.2")
    fake.keys[KEY_A] = "slow"
    fake.slow_seconds = 0.7
    messages = run(url, workdir, "Say hello.", "--model", "sonnet")
    assert messages[-1]["result"] == "Hello, world!" and fake.slow_done


def test_read_tool_loop(proxy, fake, workdir):
    note = str(workdir / "work" / "note.txt")
    fake.reply(
        events=[event([{"functionCall": {"name": "Read", "args": {"file_path": note}}}], "gemini-2.5-pro")],
        model="gemini-2.5-pro",
    )
    fake.reply(events=[event([{"text": "The word is pelican."}], "gemini-2.5-pro")], model="gemini-2.5-pro")
    messages = run(proxy, workdir, "Read note.txt and tell me the word.", "--model", "sonnet")
    tool_uses = [
        b for m in messages if m["type"] == "assistant" for b in m["message"]["content"] if b["type"] == "tool_use"
    ]
    assert [(t["name"], t["input"]) for t in tool_uses] == [("Read", {"file_path": note})]
    assert messages[-1]["result"] == "The word is pelican."
    last = [c for c in fake.generate_calls if c.path.endswith("gemini-2.5-pro:streamGenerateContent")][-1].json
    (response,) = last["contents"][-1]["parts"][:1]
    assert response["functionResponse"]["name"] == "Read" and "pelican" in json.dumps(
        response["functionResponse"]["response"]
    )


def test_bash_tool_loop_on_gemini_3_keeps_the_signature(proxy, fake, workdir):
    model = "gemini-3-pro-preview"
    call = {
        "functionCall": {"name": "Bash", "args": {"command": "echo from-the-tool", "description": "Echo"}},
        "thoughtSignature": SIG,
    }
    fake.reply(events=[event([{"text": "I will run echo.", "thought": True}, call], model)], model=model)
    fake.reply(events=[event([{"text": "Done: from-the-tool"}], model)], model=model)
    messages = run(proxy, workdir, "Run echo.", "--model", model, "--allowedTools", "Bash(echo:*)")
    assert messages[-1]["result"] == "Done: from-the-tool", messages[-1]
    results = [
        b for m in messages if m["type"] == "user" for b in m["message"]["content"] if b.get("type") == "tool_result"
    ]
    assert "from-the-tool" in json.dumps(results)
    second = [c for c in fake.generate_calls if c.path.startswith(f"/v1beta/models/{model}:")][-1].json
    model_turn = second["contents"][-2]
    assert {"functionCall": call["functionCall"], "thoughtSignature": SIG} in model_turn["parts"]


def test_model_discovery_lists_the_claude_aliases(proxy, fake, workdir):
    """Claude Code's gateway model discovery (`GET /v1/models?limit=1000` with
    anthropic-version) keeps only claude*/anthropic* ids: it caches the proxy's aliases,
    and the pro alias then runs on the pro family. Discovery is opt-in in Claude Code
    (CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY) and counts as non-essential traffic."""
    messages = run(
        proxy,
        workdir,
        "Say hello.",
        "--model",
        "claude-gemini-pro",
        CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=None,
    )
    assert messages[-1]["result"] == "Hello, world!"
    cache = json.loads((workdir / "home" / ".claude" / "cache" / "gateway-models.json").read_text())
    assert cache["baseUrl"] == proxy
    assert [m["id"] for m in cache["models"]] == ["claude-gemini-pro", "claude-haiku-gemini-flash"]
    main = [c for c in fake.generate_calls if "streamGenerateContent" in c.path]
    assert main and main[-1].path.startswith("/v1beta/models/gemini-2.5-pro:")


def test_tool_loop_on_the_family_defaults(proxy, fake, workdir):
    """No --model: Claude Code's own default Claude model runs on the pro family, and a
    Read tool loop completes with the requests Claude Code sends today (context_management,
    effort, betas: test_corpus.py checks what is dropped and named)."""
    note = str(workdir / "work" / "note.txt")
    fake.reply(
        events=[event([{"functionCall": {"name": "Read", "args": {"file_path": note}}}], "gemini-2.5-pro")],
        model="gemini-2.5-pro",
    )
    fake.reply(events=[event([{"text": "It says pelican."}], "gemini-2.5-pro")], model="gemini-2.5-pro")
    messages = run(proxy, workdir, "Read note.txt.")
    assert messages[-1]["result"] == "It says pelican."
    main = [c for c in fake.generate_calls if c.path.startswith("/v1beta/models/gemini-2.5-pro:stream")]
    assert len(main) == 2 and "functionResponse" in json.dumps(main[-1].json["contents"][-1])
