"""DisconnectWatch: the server's own signal when it gives one, else a watch task on `receive`."""

from __future__ import annotations

import asyncio

import pytest

from handler.disconnect import KEY, ClientGone, Disconnect, DisconnectWatch


async def never_disconnects() -> dict:
    await asyncio.Event().wait()
    return {"type": "http.disconnect"}


def test_the_servers_signal_cancels_the_work_without_a_task():
    async def main() -> None:
        signal = Disconnect()
        scope = {"type": "http", "extensions": {KEY: signal}}
        tasks = len(asyncio.all_tasks())
        with pytest.raises(ClientGone):
            async with DisconnectWatch(scope, never_disconnects):
                assert len(asyncio.all_tasks()) == tasks  # no watch task
                asyncio.get_running_loop().call_later(0.01, signal.lost)
                await asyncio.sleep(10)
        assert signal.callback is None

    asyncio.run(asyncio.wait_for(main(), 5))


def test_a_client_already_gone_is_told_at_once_and_work_that_ends_first_is_untouched():
    async def main() -> None:
        signal = Disconnect()
        async with DisconnectWatch({"extensions": {KEY: signal}}, never_disconnects):
            await asyncio.sleep(0)
        assert signal.callback is None
        signal.lost()  # after the watch: nothing to cancel
        with pytest.raises(ClientGone):
            async with DisconnectWatch({"extensions": {KEY: signal}}, never_disconnects):
                raise AssertionError("not reached")

    asyncio.run(main())


def test_without_the_signal_a_task_waits_on_receive():
    async def main() -> None:
        gone = asyncio.Event()

        async def receive() -> dict:
            await gone.wait()
            return {"type": "http.disconnect"}

        with pytest.raises(ClientGone):
            async with DisconnectWatch({"type": "http"}, receive):
                asyncio.get_running_loop().call_later(0.01, gone.set)
                await asyncio.sleep(10)

    asyncio.run(asyncio.wait_for(main(), 5))


def test_a_nested_watch_hands_the_signal_back_to_the_outer_one():
    async def main() -> None:
        signal = Disconnect()
        scope = {"extensions": {KEY: signal}}
        with pytest.raises(ClientGone):
            async with DisconnectWatch(scope, never_disconnects) as outer:
                async with DisconnectWatch(scope, never_disconnects):
                    pass
                assert signal.callback is not None and signal.callback == outer._lost
                asyncio.get_running_loop().call_later(0.01, signal.lost)
                await asyncio.sleep(10)
        assert signal.callback is None

    asyncio.run(asyncio.wait_for(main(), 5))
