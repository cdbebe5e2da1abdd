import asyncio

import pytest

from smc_operator.ratelimit import TokenBucket


@pytest.mark.looptime
async def test_calls_are_spaced_by_the_rate_in_virtual_time() -> None:
    bucket = TokenBucket(rate=5)
    loop = asyncio.get_running_loop()
    start = loop.time()
    moments: list[float] = []

    async def call() -> None:
        await bucket.acquire()
        moments.append(loop.time() - start)

    await asyncio.gather(*(call() for _ in range(6)))
    assert moments == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])


@pytest.mark.looptime
async def test_a_burst_is_served_at_once_then_spaced() -> None:
    bucket = TokenBucket(rate=2, burst=3)
    loop = asyncio.get_running_loop()
    waits = [await bucket.acquire() for _ in range(3)]
    assert waits == [0, 0, 0]
    start = loop.time()
    await bucket.acquire()
    assert loop.time() - start == pytest.approx(0.5)


@pytest.mark.looptime
async def test_idle_time_refills_up_to_the_burst_only() -> None:
    bucket = TokenBucket(rate=10, burst=2)
    await bucket.acquire()
    await asyncio.sleep(60)
    assert [await bucket.acquire() for _ in range(2)] == [0, 0]
    assert await bucket.acquire() == pytest.approx(0.1)


async def test_rate_zero_is_unlimited() -> None:
    bucket = TokenBucket(rate=0)
    assert [await bucket.acquire() for _ in range(1000)] == [0] * 1000


@pytest.mark.looptime
async def test_a_cancelled_waiter_gives_its_reservation_back() -> None:
    bucket = TokenBucket(rate=1)
    await bucket.acquire()
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0.1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    loop = asyncio.get_running_loop()
    start = loop.time()
    await bucket.acquire()
    assert loop.time() - start == pytest.approx(0.9)


def test_invalid_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=-1)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(rate=1, burst=0)
