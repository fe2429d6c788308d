"""Reading the in-run client's record files: complete lines only, resumable offsets, every record
kind, malformed lines reported instead of raised."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from engine.tracking.records import Record, parse_records, read_complete_lines, scalar_columns


def m(seq: int, key: str, value: float, step: int, ts: float = 1700000000.5) -> bytes:
    return json.dumps([seq, "m", key, value, step, ts]).encode()


def test_a_partial_trailing_line_waits_until_it_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    path.write_bytes(m(1, "loss", 0.5, 0) + b"\n" + m(2, "loss", 0.25, 1)[:9])
    lines, offset = read_complete_lines(path, 0)
    assert lines == [m(1, "loss", 0.5, 0)]
    assert offset == len(m(1, "loss", 0.5, 0)) + 1

    assert read_complete_lines(path, offset) == ([], offset)  # still incomplete: nothing new

    with path.open("ab") as f:
        f.write(m(2, "loss", 0.25, 1)[9:] + b"\n" + m(3, "loss", 0.125, 2) + b"\n")
    lines2, offset2 = read_complete_lines(path, offset)
    assert lines2 == [m(2, "loss", 0.25, 1), m(3, "loss", 0.125, 2)]
    assert offset2 == path.stat().st_size
    assert read_complete_lines(path, offset2) == ([], offset2)


def test_offsets_resume_without_duplicates_in_small_batches(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    expected = [m(i, "k", i * 0.5, i - 1) for i in range(1, 501)]
    path.write_bytes(b"".join(line + b"\n" for line in expected))
    got: list[bytes] = []
    offset = 0
    calls = 0
    while True:
        lines, new = read_complete_lines(path, offset, max_bytes=1000)  # about 25 lines a call
        if new == offset:
            break
        got += lines
        offset = new
        calls += 1
    assert got == expected
    assert calls > 10


def test_a_line_longer_than_max_bytes_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    big = json.dumps([1, "l", "big", list(range(5000)), 1.0, ""]).encode()
    path.write_bytes(big + b"\n" + m(2, "k", 1.0, 0) + b"\n")
    lines, offset = read_complete_lines(path, 0, max_bytes=100)
    assert lines[0] == big
    lines2, offset2 = read_complete_lines(path, offset, max_bytes=100)
    assert lines2 == [m(2, "k", 1.0, 0)] and offset2 == path.stat().st_size


def test_a_missing_file_reads_as_empty(tmp_path: Path) -> None:
    assert read_complete_lines(tmp_path / "nope.jsonl", 0) == ([], 0)


def test_every_record_kind_parses() -> None:
    lines = [
        b'[1,"m","loss",0.5,0,1700000000.25]',
        b'[2,"m","acc",3,7,1700000000616592e-6]',
        b'[3,"m","bad",NaN,1,1.0]',
        b'[4,"m","up",Infinity,2,1]',
        b'[5,"m","down",-Infinity,3,1.0]',
        b'[6,"l","accs",[1,2.5,"x"],2.0,"per class"]',
        b'[7,"r","Y over X",{"x":1,"y":0.4},3.0,""]',
        b'[8,"t","tbl",{"a":[1,2]},4.0,"d"]',
        b'[9,"i","pic","files/1-ab-1-pic.png",5.0,""]',
        b'[10,"g",{"team":"vision"},6.0]',
        b'[11,"p",{"lr":0.01},7.0]',
        b'[12,"u","outputs/x.csv","files/1-ab-2-x.csv",8.0]',
        b'[13,"m","\\u00e9t\\u00e9,\\"q\\"",1.5,0,9.0]',
    ]
    records, errors = parse_records(lines, "w.jsonl")
    assert errors == []
    assert records[0] == Record(1, "m", "loss", 0.5, 0, 1700000000.25, None)
    assert records[1] == Record(2, "m", "acc", 3.0, 7, 1700000000.616592, None)
    assert type(records[1].value) is float and type(records[3].timestamp) is float
    assert math.isnan(records[2].value)  # type: ignore[arg-type]
    assert records[3].value == math.inf and records[4].value == -math.inf
    assert records[5] == Record(6, "l", "accs", [1, 2.5, "x"], None, 2.0, "per class")
    assert records[6] == Record(7, "r", "Y over X", {"x": 1, "y": 0.4}, None, 3.0, "")
    assert records[7] == Record(8, "t", "tbl", {"a": [1, 2]}, None, 4.0, "d")
    assert records[8] == Record(9, "i", "pic", "files/1-ab-1-pic.png", None, 5.0, "")
    assert records[9] == Record(10, "g", None, {"team": "vision"}, None, 6.0, None)
    assert records[10] == Record(11, "p", None, {"lr": 0.01}, None, 7.0, None)
    assert records[11] == Record(12, "u", "outputs/x.csv", "files/1-ab-2-x.csv", None, 8.0, None)
    assert records[12].key == 'été,"q"'


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b'[3,"m","loss",0.5,2', "not JSON"),
        (b"garbage", "not JSON"),
        (b'[3,"m","loss","abc",2,1.0]', "metric value must be a number"),
        (b'[3,"m","loss",0.5,2.5,1.0]', "step must be an int or null"),
        (b'[0,"m","loss",0.5,2,1.0]', "sequence number must be a positive int"),
        (b'[3,"z","loss",0.5,2,1.0]', "unknown record kind 'z'"),
        (b'[3,["m"],"loss",0.5,2,1.0]', "unknown record kind ['m']"),
        (b'[3,"g",["not","a","dict"],1.0]', "'g' record value must be an object"),
        (b"{}", "not a record array"),
        (b'[3,"m","loss",0.5,2,1.0],[4,"m","loss",0.5,3,1.0]', "not JSON"),
    ],
)
def test_a_malformed_line_is_reported_and_the_rest_still_parse(bad: bytes, reason: str) -> None:
    lines = [m(1, "loss", 0.5, 0), m(2, "loss", 0.4, 1), bad, m(4, "loss", 0.3, 3), b""]
    records, errors = parse_records(lines, "123-abcd.jsonl")
    assert [r.seq for r in records] == [1, 2, 4]
    assert len(errors) == 1
    assert errors[0].startswith("123-abcd.jsonl: malformed record (")
    assert reason in errors[0]
    assert bad.decode() in errors[0]


def test_scalar_columns_group_by_key_in_order() -> None:
    lines = [
        m(1, "loss", 1.0, 0, 10.0),
        b'[2,"g",{"a":"b"},11.0]',
        m(3, "acc", 0.1, 0, 12.0),
        m(4, "loss", 0.5, 1, 13.0),
        b'[5,"m","nostep",2.0,null,14.0]',
        b'[6,"m","nostep",3.0,null,15.0]',
    ]
    records, errors = parse_records(lines, "w")
    assert errors == []
    cols = scalar_columns(records)
    assert list(cols) == ["loss", "acc", "nostep"]
    assert cols["loss"] == ([0, 1], [1.0, 0.5], [10.0, 13.0])
    assert cols["acc"] == ([0], [0.1], [12.0])
    assert cols["nostep"] == ([0, 1], [2.0, 3.0], [14.0, 15.0])


def test_parse_is_fast_enough_for_live_ingest() -> None:
    """A sanity floor (the benchmark measures properly): 200k scalar lines well under 2 s."""
    import time

    lines = [m(i, "loss", i * 0.001, i) for i in range(1, 200_001)]
    start = time.process_time()
    records, errors = parse_records(lines, "w")
    elapsed = time.process_time() - start
    assert errors == [] and len(records) == 200_000
    assert elapsed < 2.0, f"{len(lines) / elapsed:,.0f} records/s"
