import asyncio

import pytest

from beacons.errors import SpoolFull, SpoolLocked
from beacons.spool import KIND_EVENT, KIND_INVALID, Spool, SpoolRecord


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
