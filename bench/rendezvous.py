"""Microbenchmark: what a sticky session adds to choosing a request's keys.

    python bench/rendezvous.py [--keys 4] [--rounds 200000]

Times `Cooldown.order` for one request, with a session (the rendezvous order of its
name over the keys, handler/keys/session.py) and without (today's random pick), with
nothing cooling and with one key cooling; and a session's first request, whose order
is not remembered yet (the HMACs are computed). Prints microseconds per request, best
of 5 runs (the minimum is the least disturbed by other processes on a shared machine),
and the target: the session's order must cost under 10 us per request.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handler.keys import session as sessions
from handler.keys.cooldown import Cooldown

TARGET_US = 10.0


def per_call_us(statement, rounds: int) -> float:
    return min(timeit.repeat(statement, number=rounds, repeat=5)) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=200_000)
    args = parser.parse_args()
    keys = tuple(f"AIzaSy{i:02d}-bench-key-{'x' * 24}" for i in range(args.keys))
    session = "01a25183-16d9-7cf1-bded-80281df11e65"  # a Codex / Claude Code session id
    idle, cooling = Cooldown(), Cooldown()
    cooling.cool(keys[0], 60, "gemini-2.5-flash")
    rows = [
        ("random order (no session)", lambda: idle.order(keys, "gemini-2.5-flash")),
        ("session order", lambda: idle.order(keys, "gemini-2.5-flash", session)),
        ("session order, one key cooling", lambda: cooling.order(keys, "gemini-2.5-flash", session)),
        (
            "a session's first request",
            lambda: (sessions._orders.clear(), idle.order(keys, "gemini-2.5-flash", session)),
        ),
    ]
    print(f"{args.keys} keys, best of 5 x {args.rounds} calls")
    results = {}
    for name, statement in rows:
        results[name] = per_call_us(statement, args.rounds)
        print(f"  {name:34s} {results[name]:6.2f} us/request")
    worst = max(
        results["session order"], results["session order, one key cooling"], results["a session's first request"]
    )
    verdict = "under" if worst < TARGET_US else "OVER"
    print(f"session order: {worst:.2f} us per request, {verdict} the {TARGET_US:g} us target")


if __name__ == "__main__":
    main()
