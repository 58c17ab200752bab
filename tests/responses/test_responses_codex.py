"""Codex CLI itself (`codex exec`, from the npm package @openai/codex) against the proxy:
a plain prompt, and a shell-tool loop on Gemini 3 (whose signatures must survive Codex's
own history keeping). Codex runs headless with a temporary CODEX_HOME whose config.toml
names the proxy as a custom provider (wire_api = "responses"), analytics and update
checks off, and a dead HTTPS proxy for anything not on loopback, so nothing leaves the
machine.

The binary: $CODEX_BIN, else node_modules/.bin/codex (`npm install` from package.json,
as CI does), else `codex` on PATH; without one the tests skip, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from handler.responses.compaction import PROMPT

from ..conftest import KEY_A
from ..fake_gemini import usage

ROOT = Path(__file__).resolve().parents[2]
SIG = "CtsBAY89a1+codex/shell/signature=="
CONFIG = """\
model = "{model}"
model_provider = "gemini-edge-proxy"
check_for_update_on_startup = false

[model_providers.gemini-edge-proxy]
name = "Gemini Edge Proxy"
base_url = "{base_url}/v1"
wire_api = "responses"
env_key = "GEMINI_EDGE_PROXY_KEY"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false

[feedback]
enabled = false
"""


def codex_binary() -> str | None:
    for candidate in (
        os.environ.get("CODEX_BIN"),
        str(ROOT / "node_modules" / ".bin" / "codex"),
        shutil.which("codex"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


CODEX = codex_binary()
pytestmark = pytest.mark.skipif(
    CODEX is None, reason="Codex CLI not found: set CODEX_BIN or run `npm install` (package.json lists @openai/codex)"
)


# Codex compacts through the server (remote compaction v2: an input ending in
# compaction_trigger) only for a provider named "OpenAI"; a low limit makes it compact
# as soon as an answer reports a large prompt.
REMOTE_COMPACTION = """\
model_auto_compact_token_limit = 1000
model_context_window = 100000
"""


def event(parts: list[dict], finish: str | None = "STOP", model: str = "gemini-2.5-flash", prompt: int = 5) -> dict:
    candidate: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage(prompt), "modelVersion": model, "responseId": "r"}


def run_codex(
    tmp_path: Path, proxy: str, model: str, prompt: str, compaction: bool = False
) -> subprocess.CompletedProcess:
    home = tmp_path / "codex-home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    config = CONFIG.format(model=model, base_url=proxy)
    if compaction:
        config = REMOTE_COMPACTION + config.replace('name = "Gemini Edge Proxy"', 'name = "OpenAI"')
    (home / "config.toml").write_text(config)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "CODEX_HOME": str(home),
        "GEMINI_EDGE_PROXY_KEY": KEY_A,
        # Anything Codex would fetch from the internet goes to a dead proxy instead.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "RUST_LOG": "error",
    }
    command = [
        CODEX,
        "exec",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        "-C",
        str(work),
        prompt,
    ]
    return subprocess.run(
        command, check=False, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )


def turn_calls(fake, prompt: str) -> list[dict]:
    """The generate calls of Codex's turn (Codex may make others, such as a title)."""
    return [c.json for c in fake.generate_calls if prompt in str(c.json.get("contents"))]


def test_codex_exec_plain_prompt(tmp_path, proxy, fake):
    fake.reply(events=[event([{"text": "Hello from"}], None), event([{"text": " Gemini."}])])
    done = run_codex(tmp_path, proxy, "gemini-2.5-flash", "Say hello.")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Hello from Gemini." in done.stdout
    (call,) = turn_calls(fake, "Say hello.")
    assert call["contents"][-1] == {"role": "user", "parts": [{"text": "Say hello."}]}
    assert "Codex" in call["systemInstruction"]["parts"][0]["text"]  # Codex's developer message
    names = [d["name"] for d in call["tools"][0]["functionDeclarations"]]
    assert "exec_command" in names
    paths = {c.path for c in fake.received}
    assert paths <= {"/v1beta/models/gemini-2.5-flash:streamGenerateContent", "/v1beta/models"}, paths


def test_codex_shell_tool_loop_on_gemini_3(tmp_path, proxy, fake):
    model = "gemini-3-pro-preview"
    fake.reply(
        events=[
            event(
                [{"text": "I will write the file.", "thought": True, "thoughtSignature": "THOUGHT" + SIG}],
                None,
                model=model,
            ),
            event(
                [
                    {
                        "functionCall": {
                            "name": "exec_command",
                            "args": {"cmd": "echo codex-was-here > proof.txt && cat proof.txt"},
                        },
                        "thoughtSignature": SIG,
                    }
                ],
                model=model,
            ),
        ]
    )
    fake.reply(events=[event([{"text": "The file says codex-was-here."}], model=model)])
    done = run_codex(tmp_path, proxy, model, "Write proof.txt.")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "The file says codex-was-here." in done.stdout
    assert (tmp_path / "work" / "proof.txt").read_text().strip() == "codex-was-here"
    _, second = turn_calls(fake, "Write proof.txt.")[:2]
    model_turn, results = second["contents"][-2:]
    # The signatures came back byte for byte: the call's on the call (the fake refuses it
    # otherwise), the thought's from the reasoning item Codex kept (encrypted_content).
    assert model_turn["role"] == "model" and model_turn["parts"][-1]["thoughtSignature"] == SIG
    assert model_turn["parts"][0] == {"text": "", "thoughtSignature": "THOUGHT" + SIG}
    assert "I will write the file." in done.stdout + done.stderr  # Codex showed the reasoning summary
    assert model_turn["parts"][-1]["functionCall"]["name"] == "exec_command"
    (response,) = results["parts"]
    assert response["functionResponse"]["name"] == "exec_command"
    assert "codex-was-here" in str(response["functionResponse"]["response"])


def test_codex_compacts_remotely_through_the_proxy_and_continues(tmp_path, proxy, fake):
    """Codex's remote compaction v2 against the proxy: the first answer reports a prompt
    over Codex's limit, so Codex sends the conversation ending in compaction_trigger; the
    proxy answers one sealed compaction item made from Gemini's summary; Codex continues
    the turn with that item, which the proxy opens back into Gemini's context."""
    summary = "Hand-over: the user asked for proof.txt; it was written with echo. Next: report it."
    fake.reply(
        events=[
            event(
                [{"functionCall": {"name": "exec_command", "args": {"cmd": "echo compacted-ok > proof.txt"}}}],
                prompt=90_000,
            )
        ]
    )
    fake.reply(events=[event([{"text": summary}])])
    fake.reply(events=[event([{"text": "proof.txt is written."}])])
    done = run_codex(tmp_path, proxy, "gemini-2.5-flash", "Write proof.txt.", compaction=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "proof.txt is written." in done.stdout
    assert (tmp_path / "work" / "proof.txt").read_text().strip() == "compacted-ok"
    first, compacting, after = [c.json for c in fake.generate_calls][:3]
    assert compacting["contents"][-1] == {"role": "user", "parts": [{"text": PROMPT}]}
    assert "tools" not in compacting and "tools" in first
    texts = [p.get("text", "") for c in after["contents"] for p in c["parts"]]
    assert any(summary in t for t in texts)  # the sealed item came back and was opened
    assert len(fake.generate_calls) == 3


def test_codex_with_a_model_name_it_knows_declares_tools_in_input(tmp_path, proxy, fake):
    """For models it knows, Codex sends its tools in an `additional_tools` input item (and
    a `configuration_update` item): the tools still reach Gemini, the update is dropped
    and named."""
    fake.reply(events=[event([{"text": "Hello from Gemini."}])])
    done = run_codex(tmp_path, proxy, "gpt-6.1-sol", "Say hello.")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Hello from Gemini." in done.stdout
    (call,) = turn_calls(fake, "Say hello.")
    names = [d["name"] for d in call["tools"][0]["functionDeclarations"]]
    assert "functions__exec" in names  # Codex's freeform exec tool, in its namespace
