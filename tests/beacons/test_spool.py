import asyncio

import pytest

from beacons.errors import SpoolError, SpoolFull, SpoolLocked
from beacons.spool import KIND_EVENT, KIND_INVALID, Position, ProcessLoad, Spool, SpoolRecord


def rec(i: int, kind: int = KIND_EVENT) -> SpoolRecord:
    return SpoolRecord(kind, f"imp-{i}".encode(), b'{"n":%d}' % i, 1700000000000 + i)


async def test_append_read_commit_reopen(tmp_path):
    spool = await Spool(tmp_path, segment_bytes=2048).open()
    for i in range(0, 100, 10):
        await asyncio.gather(*(spool.append([rec(j), rec(j, KIND_INVALID)]) for j in range(i, i + 10)))
    assert len(list(tmp_path.glob("seg-*.log"))) > 2  # rotated
    records = list(spool.iter_all())
    assert len(records) == 200
    assert {r.key for r in records} == {f"imp-{i}".encode() for i in range(100)}
    first, pos = spool.read(spool.checkpoint, max_records=50)
    await spool.commit(pos)
    depth = spool.depth_bytes
    await spool.close()

    again = await Spool(tmp_path, segment_bytes=2048).open()
    assert again.checkpoint == pos and again.depth_bytes == depth
    rest = list(again.iter_all())
    assert rest == records[50:]
    _, end = again.read(again.checkpoint, max_records=10_000)
    await again.commit(end)
    assert again.depth_bytes == 0
    assert len(list(tmp_path.glob("seg-*.log"))) <= 2
    await again.close()


async def test_torn_tail_is_skipped(tmp_path):
    spool = await Spool(tmp_path).open()
    await spool.append([rec(i) for i in range(10)])
    await spool.close()
    seg = sorted(tmp_path.glob("seg-*.log"))[-1]
    data = seg.read_bytes()
    seg.write_bytes(data + rec(99).encode()[:9])  # a crash mid-write
    spool = await Spool(tmp_path).open()
    await spool.append([rec(10)])
    assert [r.key for r in spool.iter_all()] == [f"imp-{i}".encode() for i in range(11)]
    await spool.close()


async def test_corrupt_record_detected_by_crc(tmp_path):
    spool = await Spool(tmp_path).open()
    await spool.append([rec(i) for i in range(3)])
    await spool.close()
    seg = sorted(tmp_path.glob("seg-*.log"))[-1]
    data = bytearray(seg.read_bytes())
    data[-3] ^= 0xFF  # flip a byte of the last record's body
    seg.write_bytes(bytes(data))
    spool = await Spool(tmp_path).open()
    assert [r.key for r in spool.iter_all()] == [b"imp-0", b"imp-1"]
    assert spool.corrupt_records == 1
    await spool.close()


async def test_size_cap_and_lock(tmp_path):
    spool = await Spool(tmp_path, max_bytes=1000).open()
    await spool.append([rec(i) for i in range(10)])
    with pytest.raises(SpoolFull) as e:
        await spool.append([rec(i) for i in range(30)])
    assert e.value.status_hint == 503 and e.value.retry_after
    with pytest.raises(SpoolLocked):
        await Spool(tmp_path).open()
    await spool.close()


async def test_group_commit_batches_fsyncs(tmp_path):
    spool = await Spool(tmp_path).open()
    await asyncio.gather(*(spool.append([rec(i)]) for i in range(500)))
    assert len(list(spool.iter_all())) == 500
    assert 1 <= spool.syncs < 50
    await spool.close()


async def test_each_group_commit_is_timed_in_the_commit_histogram(tmp_path):
    from prometheus_client import REGISTRY

    def seen(name: str) -> float:
        return REGISTRY.get_sample_value(f"adgw_spool_commit_seconds_{name}") or 0.0

    count0, sum0 = seen("count"), seen("sum")
    spool = await Spool(tmp_path).open()
    for i in range(3):  # one at a time: three commits
        await spool.append([rec(i)])
    await asyncio.gather(*(spool.append([rec(i)]) for i in range(3, 50)))
    await spool.close()
    assert seen("count") - count0 == spool.syncs >= 4
    assert seen("sum") > sum0


async def test_checkpoint_file_is_rewritten_at_most_every_interval(tmp_path):
    import orjson

    def on_disk():
        cp = orjson.loads((tmp_path / "checkpoint").read_bytes())
        return cp["segment"], cp["offset"]

    spool = await Spool(tmp_path, checkpoint_every_s=3600, checkpoint_every_bytes=1 << 30).open()
    await spool.append([rec(i) for i in range(30)])
    _, first = spool.read(spool.checkpoint, max_records=10)
    await spool.commit(first)  # the first commit writes (none had been written)
    assert on_disk() == (first.segment, first.offset)
    _, second = spool.read(first, max_records=10)
    await spool.commit(second)  # within the interval: acknowledged in memory only
    assert spool.checkpoint == second and on_disk() == (first.segment, first.offset)
    assert spool.depth_bytes == sum(len(rec(i).encode()) for i in range(20, 30))
    # a crash now (the file still says `first`) resends records 10..19: at least once
    # a clean close writes the latest
    await spool.close()
    assert on_disk() == (second.segment, second.offset)
    again = await Spool(tmp_path).open()
    assert [r.key for r in again.iter_all()] == [f"imp-{i}".encode() for i in range(20, 30)]
    await again.close()


async def test_checkpoint_file_follows_acknowledged_volume(tmp_path):
    import orjson

    def on_disk():
        cp = orjson.loads((tmp_path / "checkpoint").read_bytes())
        return Position(cp["segment"], cp["offset"])

    size = len(rec(0).encode())
    spool = await Spool(tmp_path, checkpoint_every_s=3600, checkpoint_every_bytes=5 * size).open()
    await spool.append([rec(i) for i in range(30)])
    _, pos = spool.read(spool.checkpoint, max_records=1)
    await spool.commit(pos)
    written = [on_disk()]
    for _ in range(12):
        _, pos = spool.read(pos, max_records=1)
        await spool.commit(pos)
        written.append(on_disk())
    # one rewrite per five records acknowledged, not one per commit
    assert [p.offset // size for p in dict.fromkeys(written)] == [1, 6, 11]
    await spool.close()


async def test_reads_records_larger_than_a_read_chunk(tmp_path):
    spool = await Spool(tmp_path).open()
    big = [SpoolRecord(KIND_EVENT, b"imp-big-%d" % i, bytes([65 + i]) * (150_000 + i), i) for i in range(3)]
    small = [rec(i) for i in range(5)]
    await spool.append([small[0], big[0], small[1], big[1], big[2], *small[2:]])
    got, pos = spool.read(spool.checkpoint, max_records=100)
    assert got == [small[0], big[0], small[1], big[1], big[2], *small[2:]]
    again, _ = spool.read(spool.checkpoint, max_records=2)
    assert again == [small[0], big[0]]
    assert spool.read(pos)[0] == []
    await spool.close()


async def test_commits_are_paced_but_an_idle_spool_commits_at_once(tmp_path):
    # a long interval beside anything a slow shared host does in between: at 0.2 s the
    # first commit alone once took most of it
    spool = await Spool(tmp_path, commit_interval_s=1.0).open()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await spool.append([rec(0)])  # idle: no wait for the interval
    assert loop.time() - started < 0.5
    # within the interval of that commit: everything waits for one commit at its end
    started = loop.time()
    await asyncio.gather(*(spool.append([rec(i)]) for i in range(1, 40)))
    assert loop.time() - started >= 0.5
    assert spool.syncs == 2
    await asyncio.sleep(1.1)  # idle again
    started = loop.time()
    await spool.append([rec(40)])
    assert loop.time() - started < 0.5
    assert spool.syncs == 3
    assert len(list(spool.iter_all())) == 41
    await spool.close()


def test_the_commit_interval_stretches_with_the_process_load(tmp_path):
    load = [0.0]
    spool = Spool(tmp_path, commit_interval_s=0.001, busy_commit_interval_s=0.004, busy=lambda: load[0])
    seen = {}
    for share in (0.0, 0.3, 0.5, 0.7, 0.9, 1.0, 2.0):
        load[0] = share
        seen[share] = round(spool.interval_s() * 1000, 6)
    assert seen == {0.0: 1.0, 0.3: 1.0, 0.5: 1.0, 0.7: 2.2, 0.9: 3.4, 1.0: 4.0, 2.0: 4.0}
    assert Spool(tmp_path, commit_interval_s=0.001).interval_s() == 0.001  # no load measure: fixed


def test_process_load_is_cpu_time_over_wall_time_per_window():
    wall, cpu = [100.0], [5.0]
    load = ProcessLoad(window_s=0.1, wall=lambda: wall[0], cpu=lambda: cpu[0])
    assert load() == 0.0
    wall[0], cpu[0] = 100.2, 5.15
    assert load() == pytest.approx(0.75)
    wall[0], cpu[0] = 100.25, 5.2  # within the window: the last figure stands
    assert load() == pytest.approx(0.75)
    wall[0], cpu[0] = 100.4, 5.21
    assert load() == pytest.approx(0.06 / 0.2)


async def test_a_busy_process_gathers_appends_into_longer_commits(tmp_path):
    """Fully busy, commits start every `busy_commit_interval_s`: what arrives within it
    shares one commit (beside an idle spool, which still commits at once)."""
    spool = await Spool(tmp_path, commit_interval_s=0.001, busy_commit_interval_s=1.0, busy=lambda: 1.0).open()
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        await spool.append([rec(0)])  # idle: at once
        assert loop.time() - started < 0.5
        started = loop.time()
        await asyncio.gather(*(spool.append([rec(i)]) for i in range(1, 30)))
        assert loop.time() - started >= 0.5
        assert spool.syncs == 2
    finally:
        await spool.close()


async def test_on_taken_fires_when_a_commit_takes_the_records(tmp_path):
    spool = await Spool(tmp_path, commit_interval_s=1.0).open()
    await spool.append([rec(0)])
    taken: list[int] = []
    task = asyncio.create_task(spool.append([rec(1)], on_taken=lambda: taken.append(1)))
    await asyncio.sleep(0.05)
    assert taken == []  # queued behind the interval
    await task
    assert taken == [1]
    empty: list[int] = []
    await spool.append([], on_taken=lambda: empty.append(1))  # nothing to queue: at once
    assert empty == [1]
    await spool.close()
    refused: list[int] = []
    with pytest.raises(SpoolError):
        await spool.append([rec(2)], on_taken=lambda: refused.append(1))
    assert refused == [1]  # a refused append still releases its producer
