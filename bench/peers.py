"""The proxies bench/field.py measures: this one and its peers, and how each is found.

- This proxy: from this checkout, started as infra/run.sh starts it (handler.launch:
  uvicorn with uvloop and the guarded httptools protocol); its cold start from the
  built Lambda package, run.sh itself.
- gemini-balance-lite (JavaScript edge function) under Node: a checkout named by
  `--node-peer DIR` or `BENCH_NODE_PEER`, else build/peers/gemini-balance-lite, which
  the bench clones from GitHub on first use (`git clone --depth 1`). No peer code is
  kept in this repository; bench/node_peer.mjs (ours) serves its fetch handler.
- LiteLLM's proxy: the `litellm` command named by `--litellm PATH` or `BENCH_LITELLM`,
  else build/bench-litellm/bin/litellm (`make bench-peers` makes that venv). It gets a
  config routing every lane's model to the fake upstream as a Gemini deployment.
A peer that cannot be found is left out, with a message saying how to get it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import coldstart

from bench import KEY, ROOT

NODE_REPO = "https://github.com/tech-shrimp/gemini-balance-lite"
NODE_DEFAULT = ROOT / "build" / "peers" / "gemini-balance-lite"
LITELLM_DEFAULT = ROOT / "build" / "bench-litellm" / "bin" / "litellm"
LITELLM_VERSION = "1.110.2"
# litellm[proxy] now names a `litellm-proxy` package that is not on every index; these are
# the modules its proxy imports (found by starting it until it started).
LITELLM_PACKAGES = (
    f"litellm=={LITELLM_VERSION} fastapi uvicorn uvloop httptools orjson apscheduler backoff pyjwt "
    "python-multipart cryptography email-validator websockets gunicorn redis semver expression fastapi-sso "
    "mcp soundfile pynacl"
)
GET_LITELLM = (
    f"python3 -m venv build/bench-litellm && build/bench-litellm/bin/pip install {LITELLM_PACKAGES} "
    "(or: make bench-peers)"
)
# LiteLLM refuses to start without a master key; its clients send it instead of a Gemini key.
LITELLM_MASTER_KEY = "sk-bench-0123456789abcdef0123456789abcdef"


@dataclass
class Peer:
    """How to start one proxy, warm and cold, and which lanes it serves."""

    name: str
    describe: Callable[[], str]
    command: Callable[[int, str], tuple[list[str], dict[str, str]]]
    ready_path: str
    lane_paths: dict[str, tuple[str, str] | None]  # lane -> (path, streamed path); None: as the lane's own
    cwd: Path = ROOT
    start_seconds: float = 20
    cold: Callable[[int, str], tuple[list[str], dict[str, str]]] | None = None
    setup: Callable[[Path], None] = lambda folder: None
    client_key: str | None = None  # what its clients send in place of the Gemini key
    max_spawns: int = 99  # LiteLLM takes 10-20 s to start: fewer cold starts
    state: dict = field(default_factory=dict)

    def lanes(self, all_lanes: list) -> dict:
        out = {}
        for lane in all_lanes:
            if lane.name in self.lane_paths:
                own = self.lane_paths[lane.name]
                mine = replace(lane, path=own[0], stream_path=own[1]) if own else lane
                if self.client_key:
                    headers = {k: v.replace(KEY, self.client_key) for k, v in lane.headers.items()}
                    mine = replace(mine, headers=headers)
                out[lane.name] = mine
        return out

    def prepare(self, folder: Path) -> None:
        self.setup(folder)

    def cold_command(self, port: int, upstream: str) -> tuple[list[str], dict[str, str]]:
        return (self.cold or self.command)(port, upstream)


ALL_LANES: dict[str, tuple[str, str] | None] = {
    "native": None,
    "OpenAI chat": None,
    "Anthropic Messages": None,
    "Responses": None,
}


def ours() -> Peer:
    state: dict = {}

    def command(port: int, upstream: str) -> tuple[list[str], dict[str, str]]:
        # As infra/run.sh starts it (handler.launch is uvicorn without its command line).
        argv = [sys.executable, "-m", "handler.launch", "handler.app:app", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--loop", "uvloop", "--http", "handler.server:GuardedHttpTools", "--no-access-log"]
        return argv, {**os.environ, "GEMINI_BASE_URL": upstream, "LOG_LEVEL": "INFO"}

    def setup(folder: Path) -> None:
        """The Lambda package and a `python -S` shim, as bench/coldstart.py runs it."""
        package, _ = coldstart.build(folder)
        shim = folder / "bin"
        shim.mkdir(exist_ok=True)
        (shim / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
        (shim / "python").chmod(0o755)
        state.update(package=package, shim=shim)

    def cold(port: int, upstream: str) -> tuple[list[str], dict[str, str]]:
        env = {"PATH": f"{state['shim']}:{os.environ['PATH']}", "PORT": str(port), "GEMINI_BASE_URL": upstream}
        return [str(state["package"] / "run.sh")], env

    def describe() -> str:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        return (
            f"ours: this checkout ({commit.stdout.strip() or 'no git'}); cold start: the built Lambda package's run.sh"
        )

    return Peer("ours", describe, command, "/healthz", ALL_LANES, cold=cold, setup=setup, state=state)


def node(checkout: Path) -> Peer:
    def command(port: int, upstream: str) -> tuple[list[str], dict[str, str]]:
        adapter = str(ROOT / "bench" / "node_peer.mjs")
        return ["node", "--experimental-default-type=module", adapter, str(checkout), str(port), upstream], dict(
            os.environ
        )

    def describe() -> str:
        commit = subprocess.run(["git", "log", "-1", "--format=%h %cs"], cwd=checkout, capture_output=True, text=True)
        return f"node: gemini-balance-lite {commit.stdout.strip()} ({checkout}) via bench/node_peer.mjs"

    # Its OpenAI routes come from an embedded openai-gemini; no Messages or Responses.
    lanes: dict[str, tuple[str, str] | None] = {"native": None, "OpenAI chat": None}
    return Peer("node", describe, command, "/", lanes)


LITELLM_CONFIG = """model_list:
  - model_name: gemini-2.5-flash
    litellm_params:
      model: gemini/gemini-2.5-flash
      api_base: {upstream}
      api_key: {key}
litellm_settings:
  drop_params: true
  telemetry: false
"""


def litellm(command_path: Path) -> Peer:
    state: dict = {}

    def command(port: int, upstream: str) -> tuple[list[str], dict[str, str]]:
        config = state["folder"] / "litellm.yaml"
        config.write_text(LITELLM_CONFIG.format(upstream=upstream, key=coldstart.KEY))
        argv = [str(command_path), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
        env = {**os.environ, "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False", "GEMINI_API_BASE": upstream}
        # No network: the bundled model-cost map, not a download at each start.
        env.update(
            GEMINI_API_KEY=coldstart.KEY, LITELLM_MASTER_KEY=LITELLM_MASTER_KEY, LITELLM_LOCAL_MODEL_COST_MAP="True"
        )
        return argv, env

    def describe() -> str:
        version = subprocess.run(
            [str(command_path.parent / "python"), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            capture_output=True,
            text=True,
        )
        return f"litellm: LiteLLM proxy {version.stdout.strip()} ({command_path}), one worker"

    native = "/gemini/v1beta/models/gemini-2.5-flash"
    lanes: dict[str, tuple[str, str] | None] = {
        "native": (native + ":generateContent", native + ":streamGenerateContent?alt=sse"),
        "OpenAI chat": None,
        "Anthropic Messages": None,
        "Responses": None,
    }
    return Peer(
        "litellm",
        describe,
        command,
        "/health/liveliness",
        lanes,
        start_seconds=120,
        setup=lambda folder: state.update(folder=folder),
        client_key=LITELLM_MASTER_KEY,
        max_spawns=3,
    )


def node_checkout(given: Path | None) -> Path | None:
    path = given or (Path(os.environ["BENCH_NODE_PEER"]) if os.environ.get("BENCH_NODE_PEER") else NODE_DEFAULT)
    if (path / "src" / "handle_request.js").exists():
        return path
    if path == NODE_DEFAULT:
        print(f"fetching the Node peer: git clone --depth 1 {NODE_REPO} {path}", file=sys.stderr)
        path.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["git", "clone", "-q", "--depth", "1", NODE_REPO, str(path)], capture_output=True)
        if done.returncode == 0:
            return path
    print(
        f"Node peer left out: no gemini-balance-lite checkout at {path}; get one with "
        f"`git clone {NODE_REPO} {NODE_DEFAULT}` or name one with --node-peer / BENCH_NODE_PEER",
        file=sys.stderr,
    )
    return None


def available(node_peer: Path | None, litellm_path: Path | None, only: str | None) -> list[Peer]:
    wanted = set(only.split(",")) if only else {"ours", "node", "litellm"}
    out = [ours()] if "ours" in wanted else []
    if "node" in wanted:
        if shutil.which("node") is None:
            print("Node peer left out: no `node` on the PATH (Node 20 or later)", file=sys.stderr)
        elif checkout := node_checkout(node_peer):
            out.append(node(checkout))
    if "litellm" in wanted:
        path = litellm_path or Path(os.environ.get("BENCH_LITELLM", LITELLM_DEFAULT))
        if path.exists():
            out.append(litellm(path))
        else:
            print(f"LiteLLM left out: no {path}; install it with: {GET_LITELLM}", file=sys.stderr)
    return out
