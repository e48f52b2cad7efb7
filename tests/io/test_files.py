"""Unit tests of gradcli.io.files: a read allocates what it reads, never its limit.

`read(limit)` on a buffered stream reserves `limit` bytes before reading one: with a limit of a quarter
of the machine's memory, a 301-row file took 6.3 GB of address space. Every read asks for at most the
file's size (plus one byte, to see its end) or one block.
"""

from __future__ import annotations

import io
import os
import sys

import pytest

from gradcli.errors import DataError
from gradcli.io.files import MAX_BLOCK, open_input, read_at_most
from gradcli.io.values import read_text_source

HUGE = 1 << 40  # a limit no machine here can hold


class Recording(io.BytesIO):
    """A stream that records how much each read asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.asked.append(-1 if size is None else size)
        return super().read(size)


@pytest.mark.parametrize("length", [0, 1, 5_000, (1 << 20) + 3, 5 << 20])
def test_a_file_of_known_size_is_read_in_one_call_of_its_size(length):
    stream = Recording(b"x" * length)
    assert read_at_most(stream, HUGE, length) == b"x" * length
    assert max(stream.asked) <= length + 1 and min(stream.asked) >= 0


@pytest.mark.parametrize("length", [0, 7, (1 << 20) - 1, 3 << 20, 9 << 20])
def test_a_stream_of_unknown_size_is_read_in_bounded_blocks(length):
    stream = Recording(b"y" * length)
    assert read_at_most(stream, HUGE) == b"y" * length
    assert read_at_most(Recording(b"y" * length), -1) == b"y" * length
    assert 0 <= max(stream.asked) <= MAX_BLOCK and min(stream.asked) >= 0


def test_a_file_that_grew_past_its_size_is_read_to_the_cap():
    stream = Recording(b"z" * 10_000)
    assert read_at_most(stream, 6_000, 100) == b"z" * 6_000
    assert read_at_most(Recording(b"z" * 10_000), HUGE, 100) == b"z" * 10_000


def test_a_text_stream_gives_text():
    assert read_at_most(io.StringIO("héllo"), 3) == "hél"
    assert read_at_most(io.StringIO(""), HUGE) == ""


def test_read_text_source_takes_memory_for_the_file_not_the_budget(tmp_path, monkeypatch):
    """With a budget of 1 TiB, reading a 9-byte file or stdin peaks at well under a block."""
    import tracemalloc

    (tmp_path / "d.csv").write_bytes(b"x1,y\n1,2\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(b"a,b\n"))))
    tracemalloc.start()
    try:
        assert read_text_source(str(tmp_path / "d.csv"), "--data", max_bytes=HUGE) == b"x1,y\n1,2\n"
        assert read_text_source("-", "--data", max_bytes=HUGE) == b"a,b\n"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MAX_BLOCK + (1 << 20)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_a_fifo_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "f")
    with pytest.raises(DataError, match=r"^--data file 'f' is a FIFO, not a regular file: give - and pipe"):
        open_input(str(tmp_path / "f"), "--data file 'f'")


@pytest.mark.parametrize("name, why", [("missing", "does not exist"), ("a" * 300, "the file name is too long"),
                                       ("data.csv/x", "a part of its path is not a directory")])
def test_a_name_that_cannot_be_opened_says_why(tmp_path, name, why):
    (tmp_path / "data.csv").write_text("x\n1\n")
    with pytest.raises(DataError, match=why):
        open_input(str(tmp_path / name), "data")
