"""The pure parts of fast failure: log tails, stream frames, the message."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from aiodockerspawner.backends.docker.streams import StreamDecoder
from aiodockerspawner.exits import ExitReport, LogLimits, LogTail, clean_line, describe_exit


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def test_clean_line_strips_escapes_and_controls() -> None:
    assert clean_line("\x1b[31mred\x1b[0m text\x07") == "red text"
    assert clean_line("progress 10%\rprogress 99%\r") == "progress 99%"
    assert clean_line("a\tb\x00c\x9b  ") == "a    bc"


def test_log_tail_keeps_the_last_lines() -> None:
    tail = LogTail(LogLimits(lines=3, max_bytes=1000))
    tail.feed("".join(f"line {i}\n" for i in range(100)))
    assert tail.lines() == ["line 97", "line 98", "line 99"]


def test_log_tail_bounds_bytes_and_long_lines() -> None:
    tail = LogTail(LogLimits(lines=10, max_bytes=20))
    tail.feed("first line\nsecond line\n")
    assert tail.lines() == ["second line"]
    tail.feed("x" * 100 + "END\n")
    (only,) = tail.lines()
    assert only.startswith("...") and only.endswith("END") and len(only.encode()) <= 20


def test_log_tail_keeps_an_unfinished_last_line_and_skips_blank_ones() -> None:
    tail = LogTail(LogLimits(lines=5, max_bytes=100))
    tail.feed("one\n\n   \ntw")
    tail.feed("o")
    assert tail.lines() == ["one", "two"]


def test_log_tail_off_keeps_nothing() -> None:
    tail = LogTail(LogLimits(lines=0))
    tail.feed("boom\n")
    assert tail.lines() == [] and tail.received == 0


@given(st.lists(st.text(max_size=300), max_size=50), st.integers(1, 30), st.integers(10, 500))
def test_log_tail_bounds_always_hold(chunks: list[str], lines: int, max_bytes: int) -> None:
    tail = LogTail(LogLimits(lines=lines, max_bytes=max_bytes))
    for chunk in chunks:
        tail.feed(chunk)
    kept = tail.lines()
    assert len(kept) <= lines
    assert sum(len(line.encode()) for line in kept) <= max_bytes
    assert all(clean_line(line) == line and line for line in kept)


def test_decoder_reads_frames_split_anywhere() -> None:
    data = frame(1, b"hello\n") + frame(2, "b\u00f6om\n".encode())
    for cut in range(1, len(data)):
        decoder = StreamDecoder()
        text = decoder.feed(data[:cut]) + decoder.feed(data[cut:]) + decoder.close()
        assert text == "hello\nb\u00f6om\n", cut
        assert decoder.multiplexed


def test_decoder_passes_tty_output_through() -> None:
    decoder = StreamDecoder()
    assert decoder.feed(b"plain tty") + decoder.feed(b" output\n") + decoder.close() == (
        "plain tty output\n"
    )
    assert decoder.multiplexed is False
    short = StreamDecoder()
    assert short.feed(b"ok\n") + short.close() == "ok\n"


def test_message_says_code_and_log() -> None:
    reason, lines = describe_exit(
        ExitReport("container", "jupyter-alice", 3, log=("starting", "boom"))
    )
    assert reason.startswith("Your server (container jupyter-alice) exited with code 3")
    assert reason.endswith("The last 2 line(s) of its log:")
    assert lines == ["starting", "boom"]


def test_message_says_out_of_memory_and_signals() -> None:
    oom, _ = describe_exit(
        ExitReport("container", "c", 137, oom_killed=True, memory="mem_limit 32 MiB")
    )
    assert "exited with code 137" in oom
    assert "ran out of memory (mem_limit 32 MiB)" in oom
    assert "It wrote nothing to its log." in oom
    killed, _ = describe_exit(ExitReport("container", "c", 143))
    assert "(killed by SIGTERM)" in killed
    unknown, _ = describe_exit(
        ExitReport("service", "s", None, error="task failed: \x1b[1mbad\x1b[0m", log_note="X.")
    )
    assert "stopped before it answered; Docker says: task failed: bad. X." in unknown
