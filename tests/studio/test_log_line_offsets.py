"""LogTail's line offsets, which the Logs tab's Times column maps to the supervisor's notes: one
per document line, the byte where that line starts in the file, through multi-byte characters
split between reads and the first read of a log too long to show whole."""

from __future__ import annotations

from pathlib import Path

from studio.rundetail import logtail
from studio.rundetail.logtail import LogTail


def _lines_by_offset(data: bytes, offsets: list[int | None]) -> list[str | None]:
    return [None if o is None else data[o:].split(b"\n", 1)[0].decode() for o in offsets]


def test_each_line_starts_where_the_offset_says(tmp_path: Path) -> None:
    log = tmp_path / "70_driver_log.txt"
    log.write_bytes(b"")
    tail = LogTail(log)
    shown, offsets = "", []
    chunks = ["épo", "ch 1 ✓\nsecond ", "line\n", "", "ünïcode\nlast"]
    for chunk in chunks:
        data = chunk.encode()
        if chunk == "ch 1 ✓\nsecond ":  # a read that ends inside a multi-byte character
            data, rest = data[:-9], data[-9:]
            with open(log, "ab") as f:
                f.write(data)
            shown += tail.read()
            offsets += tail.line_offsets
            data = rest
        with open(log, "ab") as f:
            f.write(data)
        shown += tail.read()
        offsets += tail.line_offsets
    assert shown == "".join(chunks)
    assert len(offsets) == shown.count("\n") + 1  # the document's lines
    assert _lines_by_offset(log.read_bytes(), offsets) == shown.split("\n")


def test_a_long_log_starts_with_a_notice_that_has_no_offset(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(logtail, "FIRST_READ_MAX", 20)
    log = tmp_path / "70_driver_log.txt"
    log.write_bytes(b"".join(f"line {i}\n".encode() for i in range(10)))
    tail = LogTail(log)
    shown = tail.read()
    lines = shown.split("\n")
    assert lines[0].startswith("[… ") and tail.line_offsets[0] is None
    assert len(tail.line_offsets) == len(lines)
    assert _lines_by_offset(log.read_bytes(), tail.line_offsets)[1:] == lines[1:]
