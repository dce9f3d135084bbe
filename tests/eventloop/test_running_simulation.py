"""``running_simulation()`` answers from the loop started last without asking asyncio (whose answer costs a
system call), and still answers for the thread asking: another thread's simulation, an ordinary loop, no loop,
a closed loop and a forked child are not this thread's running simulation."""

from __future__ import annotations

import asyncio
import os
import threading

from arb.eventloop.simloop import SimulatedLoop, run_simulation, running_simulation


def test_the_running_simulation_of_each_thread() -> None:
    started = threading.Event()
    release = threading.Event()
    seen: dict[str, object] = {}

    async def other_thread_simulation() -> None:
        seen["other"] = running_simulation()
        seen["other_loop"] = asyncio.get_running_loop()
        started.set()
        while not release.is_set():  # the main thread's simulation starts meanwhile (started last)
            await asyncio.to_thread(release.wait, 0.05)
        seen["other_after"] = running_simulation()

    thread = threading.Thread(target=run_simulation, args=(other_thread_simulation(), 0))
    thread.start()
    assert started.wait(10)

    async def main_simulation() -> object:
        loop = asyncio.get_running_loop()
        assert running_simulation() is loop  # the loop started last, running in this thread
        # An ordinary loop on a third thread: no simulation there, whichever was started last.
        found = await asyncio.to_thread(asyncio.run, _running_simulation_seen())
        assert found is None
        release.set()
        await asyncio.to_thread(thread.join, 10)
        return loop

    main_loop = run_simulation(main_simulation(), 0)
    assert not thread.is_alive()
    assert seen["other"] is seen["other_loop"]
    # Asked again on its thread after another simulation had started: still its own loop, not the last started.
    assert seen["other_after"] is seen["other_loop"]
    assert seen["other_after"] is not main_loop
    assert running_simulation() is None  # the runs are over: no loop runs here


async def _running_simulation_seen() -> object:
    return running_simulation()


def test_none_outside_a_running_simulation() -> None:
    assert running_simulation() is None
    loop = SimulatedLoop()
    try:
        assert running_simulation() is None  # made, not running
        assert loop.run_until_complete(_running_simulation_seen()) is loop
        assert running_simulation() is None  # stopped
    finally:
        loop.close()
    assert running_simulation() is None
    assert asyncio.run(_running_simulation_seen()) is None  # an ordinary loop


def test_a_child_forked_from_a_running_simulation_has_none() -> None:
    async def fork_here() -> bytes:
        loop = asyncio.get_running_loop()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: the parent's loop is not running here
            os.close(read)
            os.write(write, b"none" if running_simulation() is None else b"loop")
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as answer:
            said = answer.read()
        os.waitpid(pid, 0)
        assert running_simulation() is loop  # the parent's is still its own
        return said

    assert run_simulation(fork_here(), 0) == b"none"
