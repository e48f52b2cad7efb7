"""Unit tests of gradcli.io.csv: the strict CSV reader (fast and slow paths) and write_csv.

Every defect is a one-line DataError naming the source, the line (and row) and
the column; the fast path (pyarrow) and the slow path (csv module +
parse_number) must accept exactly the same files with the same values.
"""

from __future__ import annotations

import io
import math
import struct
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcli.engines.finite import LARGEST
from gradcli.errors import DataError
from gradcli.io import csv as table
from gradcli.io.csv import CsvTable, read_csv_table, read_header, require_columns, write_csv
from gradcli.io.values import parse_number


def table_error(content: bytes, wanted: list[str] | None = None, source: str = "data.csv") -> str:
    with pytest.raises(DataError) as info:
        read_csv_table(content, source, ["x1", "x2", "y"] if wanted is None else wanted)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{source}: "), message
    return message


@pytest.fixture(autouse=True)
def fast_readers_for_small_files(monkeypatch):
    """These files are small: let the fast readers take them, as they take files of FAST_MIN_BYTES and up."""
    monkeypatch.setattr(table, "FAST_MIN_BYTES", 0)


def slow(content: bytes, wanted: list[str] | None = None, keep_text: bool = False) -> CsvTable:
    """The reference path alone."""
    header = read_header(content, "data.csv")
    chosen = header if wanted is None else [n for n in header if n in wanted]
    return table._read_slow(content, "data.csv", header, chosen, keep_text)


@pytest.fixture
def fast_only(monkeypatch):
    """Fail if the slow path runs: a clean file must be read by pyarrow."""
    def refuse(*args, **kwargs):
        raise AssertionError("the slow path ran")

    monkeypatch.setattr(table, "_read_slow", refuse)


def as_lists(t: CsvTable) -> dict[str, list[float]]:
    return {name: values.tolist() for name, values in t.columns.items()}


# ---------------------------------------------------------------- good files


class TestGoodFiles:
    def test_columns_are_float64_arrays_in_header_order(self, fast_only):
        t = read_csv_table(b"x1,x2,y\n1.5,2,1\n1,1,0\n", "data.csv", ["y", "x1"])
        assert list(t.columns) == ["x1", "y"]
        assert as_lists(t) == {"x1": [1.5, 1.0], "y": [1.0, 0.0]}
        assert all(v.dtype == np.float64 and v.ndim == 1 for v in t.columns.values())  # possibly read-only views
        assert t.header == ["x1", "x2", "y"] and t.rows == 2 and t.source == "data.csv" and t.text is None

    def test_every_column_when_none_is_named(self, fast_only):
        t = read_csv_table(b"a,b\n1,2\n3,4\n", "f.csv")
        assert as_lists(t) == {"a": [1.0, 3.0], "b": [2.0, 4.0]}

    def test_matched_by_name_in_any_order(self):
        one = read_csv_table(b"x1,x2,y\n1,2,3\n4,5,6\n", "a.csv", ["x1", "y"])
        other = read_csv_table(b"y,note,x1\n3,a,1\n6,b,4\n", "b.csv", ["x1", "y"])
        assert as_lists(one) == as_lists(other) == {"x1": [1.0, 4.0], "y": [3.0, 6.0]}

    def test_bom_crlf_quotes_blank_lines_and_spaces(self, fast_only):
        raw = b'\xef\xbb\xbf"x1", x2 ,y\r\n\r\n"1.5"," 2 ",1\r\n\r\n\r\n1,1,"0"\r\n\r\n'
        t = read_csv_table(raw, "data.csv")
        assert t.header == ["x1", "x2", "y"]
        assert as_lists(t) == {"x1": [1.5, 1.0], "x2": [2.0, 1.0], "y": [1.0, 0.0]}
        assert t.rows == 2

    def test_lines_of_spaces_are_blank(self):
        t = read_csv_table(b"x,y\n  \n1,2\n\t\n3,4\n   ", "data.csv")
        assert as_lists(t) == {"x": [1.0, 3.0], "y": [2.0, 4.0]}

    @pytest.mark.parametrize("raw", [b"\n\nx,y\n\n1,2\n\n\n3,4\n\n\n", b"\r\n\r\nx,y\r\n\r\n1,2\r\n\r\n\r\n3,4",
                                     b"x,y\r1,2\r\r3,4\r"])
    def test_blank_lines_anywhere(self, raw):
        t = read_csv_table(raw, "data.csv")
        assert as_lists(t) == {"x": [1.0, 3.0], "y": [2.0, 4.0]} and t.rows == 2

    def test_exact_values(self, fast_only):
        t = read_csv_table(b"x\n0.1\n-0\n1e-400\n1.3407807929942596e154\n+.5\n1.E5\n 007 \n", "data.csv")
        got = t.columns["x"].tolist()
        assert got == [0.1, 0.0, 0.0, 1.3407807929942596e154, 0.5, 1e5, 7.0]  # the largest usable (finite.LARGEST)
        assert math.copysign(1, got[1]) == -1

    def test_other_columns_kept_as_text(self, fast_only):
        t = read_csv_table(b'x1,note,y\n1,hello,2\n3,"a, b",4\n', "data.csv", ["x1", "y"], keep_text=True)
        assert as_lists(t) == {"x1": [1.0, 3.0], "y": [2.0, 4.0]}
        assert t.text == {"note": ["hello", "a, b"]}

    def test_unwanted_columns_are_not_checked(self):
        t = read_csv_table(b"x1,note,y\n1,hello,2\n3,,inf\n", "data.csv", ["x1"])
        assert as_lists(t) == {"x1": [1.0, 3.0]}

    def test_quoted_newlines_in_text_and_line_numbers_after_them(self):
        raw = b'x,note\n1,"two\nlines"\n2,ok\n3,bad\n'
        t = read_csv_table(raw, "data.csv", ["x"], keep_text=True)
        assert as_lists(t) == {"x": [1.0, 2.0, 3.0]} and t.text == {"note": ["two\nlines", "ok", "bad"]}
        message = table_error(b'x,note\n1,"two\nlines"\n2,ok\nbad,3\n', ["x"])
        assert "line 5 (row 3), column 'x'" in message

    def test_a_defect_in_a_row_over_several_lines_names_its_first_line(self):
        message = table_error(b'x,note\n1,a\nz,"two\nlines"\n', ["x"])
        assert "line 3 (row 2), column 'x'" in message

    def test_odd_but_allowed_spaces_go_the_slow_way_and_agree(self):
        # pyarrow does not trim a no-break space; parse_number (str.strip) does.
        t = read_csv_table("x,y\n1,\u00a02\u00a0\n".encode(), "data.csv")
        assert as_lists(t) == {"x": [1.0], "y": [2.0]}

    def test_header_beyond_the_first_chunk(self, monkeypatch):
        monkeypatch.setattr(table, "_HEADER_PREFIX", 4)
        raw = b"\n" * 10 + b'"x\nx",y\n1,2\n'
        t = read_csv_table(raw, "data.csv")
        assert t.header == ["x\nx", "y"] and as_lists(t) == {"x\nx": [1.0], "y": [2.0]}

    def test_a_large_clean_file_is_read_fast(self, fast_only):
        rng = np.random.default_rng(1)
        values = rng.standard_normal((5000, 3))
        raw = ("a,b,c\n" + "".join(f"{a!r},{b!r},{c!r}\n" for a, b, c in values.tolist())).encode()
        t = read_csv_table(raw, "big.csv")
        assert np.array_equal(np.column_stack(list(t.columns.values())), values)
        quoted = raw.replace(b",", b'","').replace(b"\n", b'"\n"')[:-1]
        quoted = b'"' + quoted
        assert np.array_equal(np.column_stack(list(read_csv_table(quoted, "q.csv").columns.values())), values)


# ---------------------------------------------------------------- defects


class TestDefects:
    @pytest.mark.parametrize(
        "content, needles",
        [
            (b"x1,x2,y\n1.5,2,1\n1,2\n", ["line 3 (row 2)", "2 fields", "header has 3", "column 'y'"]),
            (b"x1,x2,y\n1,2,3,4\n", ["line 2 (row 1)", "4 fields", "header has 3", "column 'y'"]),
            (b"x1,x2,y\n1,2,3\n5\n", ["line 3 (row 2)", "1 field;", "column 'x2'"]),
            (b"x1,x2,y\n1,2,3\n,,\n", ["line 3 (row 2), column 'x1'", "empty value"]),
            (b"x1,x2,y\n1.5,2,1\n1,,3\n", ["line 3 (row 2), column 'x2'", "empty value"]),
            (b"x1,x2,y\n1.5,2,1\n1, ,3\n", ["line 3 (row 2), column 'x2'", "empty value"]),
            (b"x1,x2,y\n\n\n1,abc,3\n", ["line 4 (row 1), column 'x2'", "'abc' is not a decimal number"]),
            (b"x1,x2,y\r\n\r\n1,2,3\r\n1,abc,3\r\n", ["line 4 (row 2), column 'x2'", "'abc'"]),
            (b"x1,x2,y\n1,2,NaN\n", ["line 2 (row 1), column 'y'", "NaN", "finite"]),
            (b"x1,x2,y\n-inf,2,1\n", ["line 2 (row 1), column 'x1'", "-inf", "finite"]),
            (b"x1,x2,y\n1,2,3\n+INFINITY,2,1\n", ["line 3 (row 2), column 'x1'", "+INFINITY", "finite"]),
            (b"x1,x2,y\n1,2,3\n1,2,-Infinity\n", ["line 3 (row 2), column 'y'", "-Infinity", "finite"]),
            (b"x1,x2,y\n1,1e400,3\n", ["line 2 (row 1), column 'x2'", "1e400", "overflows"]),
            (b"x1,x2,y\n1,2,3\n1,2,-1e999\n", ["line 3 (row 2), column 'y'", "-1e999", "overflows"]),
            (b"x1,x2,y\n1,0x10,3\n", ["line 2 (row 1), column 'x2'", "'0x10'"]),
            (b"x1,x2,y\n1,1_000,3\n", ["line 2 (row 1), column 'x2'", "'1_000'"]),
            ("x1,x2,y\n1,\u0661,3\n".encode(), ["line 2 (row 1), column 'x2'", "not a decimal number"]),
            (b"x1,x2,y\n1,2 kg,3\n", ["line 2 (row 1), column 'x2'", "'2 kg'"]),
            (b"x1,x2,y\n1,nan(1),3\n", ["line 2 (row 1), column 'x2'", "'nan(1)'"]),
            (b"x1,x1,y\n1,2,3\n", ["line 1", "'x1'", "twice"]),
            (b"x1, x1 ,y\n1,2,3\n", ["line 1", "'x1'", "twice"]),
            (b"\n\nx1,,y\n1,2,3\n", ["line 3", "column 2", "empty name"]),
            (b"x1,x2, \n1,2,3\n", ["line 1", "column 3", "empty name"]),
            (b"x1,x2,y\n", ["header", "no data rows"]),
            (b"x1,x2,y\n\n\n", ["header", "no data rows"]),
            (b"", ["empty"]),
            (b"\n\n  \n", ["empty"]),
            (b"\xef\xbb\xbf", ["empty"]),
            (b"x1,x2,y\n1,2,3\n1,\xff,3\n", ["line 3", "invalid UTF-8"]),
            (b"x1,x2,y\xff\n1,2,3\n", ["line 1", "invalid UTF-8"]),
            (b'x1,x2,y\n1,"2,3\n', ["line 2", "malformed CSV"]),
            (b'x1,x2,y\n"1"2,3,4\n', ["line 2", "malformed CSV"]),
            (b'x1,x2,y\n"1" ,3,4\n', ["line 2", "malformed CSV"]),
            (b"x1,x2\n1,2\n", ["no column 'y'", "(columns: x1, x2)"]),
        ],
        ids=["ragged-short", "ragged-long", "ragged-one", "empty-row-of-commas", "empty-cell", "space-cell",
             "non-numeric", "non-numeric-crlf", "nan", "inf", "infinity-signed", "infinity-mixed-case", "overflow",
             "overflow-negative", "hex", "underscore", "arabic-digit", "garbage-after", "nan-payload",
             "duplicate-header", "duplicate-header-spaces", "empty-header", "blank-header", "header-only",
             "header-and-blank-lines", "empty-file", "blank-file", "bom-only", "invalid-utf8", "invalid-utf8-header",
             "unclosed-quote", "text-after-quote", "space-after-quote", "missing-column"],
    )
    def test_defects(self, content, needles):
        message = table_error(content)
        for needle in needles:
            assert needle in message, (needle, message)

    def test_missing_column_message(self):
        assert table_error(b"x1,x2,y\n1,2,3\n", ["x1", "x3"]) == "data.csv: no column 'x3' (columns: x1, x2, y)"
        with pytest.raises(DataError, match=r"^stdin: no column 'b' \(columns: a\)$"):
            require_columns(["a"], ["a", "b"], "stdin")

    def test_message_style(self):
        assert table_error(b"x0,x1\n\n1,2\n3,4\n5,6\n6,7\n8,abc\n", ["x1"], "points.csv") == \
            "points.csv: line 7 (row 5), column 'x1': 'abc' is not a decimal number"

    def test_invalid_utf8_in_an_unused_column(self):
        assert "line 3" in table_error(b"x1,note,y\n1,a,2\n1,\xe9,2\n", ["x1", "y"])

    def test_the_first_defect_in_the_file_is_named(self):
        assert "line 3 (row 2), column 'y'" in table_error(b"x1,x2,y\n1,2,3\n1,2,z\n1,z,3\n")

    def test_a_defect_late_in_a_large_file(self):
        rows = "".join(f"{i},{i / 7!r},1\n" for i in range(3000))
        message = table_error(f"x1,x2,y\n{rows}5,inf,1\n".encode())
        assert "line 3002 (row 3001), column 'x2'" in message


# ---------------------------------------------------------------- the two paths agree

# Cell text: mostly number-like, with the things readers disagree about.
NUMBER_LIKE = st.from_regex(r"\A[ \t]?[+-]?[0-9]{0,3}\.?[0-9]{0,3}([eE][+-]?[0-9]{1,4})?[ \t]?\Z")
ODD = st.sampled_from(["nan", "NaN", "-inf", "+Infinity", "INF", "1e999", "-1e400", "0x1p3", "0x10", "1_0", "1d5",
                       "\u0661", "\u00a01", "1\u2003", "\x0b1", "1\x0c", ".", "+", "-", "e1", "1e", "1.5e+",
                       "", " ", "\t", "nan(1)", "١٢", "1,5", '"', "1\n", "\n1", "\r2", "3\r\n", "1 2", "+-1",
                       "4.9e-324", "2.4703282292062328e-324", "1.7976931348623158e308", "9" * 40])
CELL = st.one_of(NUMBER_LIKE, ODD, st.text(alphabet="0123456789.eE+- \t\u00a0xna_", max_size=8))


def csv_cell(text: str) -> str:
    """The cell as CSV: quoted when it must be (and then with quotes doubled)."""
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def reference(text: str) -> float | None:
    """The number a data cell holds, or None: a decimal that parse_number takes and float64 can square."""
    try:
        value = parse_number(text, "here")
    except DataError:
        return None
    return value if abs(value) <= LARGEST else None


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cell=CELL, quoted=st.booleans())
def test_a_cell_is_accepted_exactly_when_parse_number_accepts_it(cell, quoted):
    written = '"' + cell.replace('"', '""') + '"' if quoted else csv_cell(cell)
    # A good row first, so that the fast path has work to do and a blank-looking cell cannot empty the file.
    raw = f"a,b\n1,1\n2,{written}\n".encode()
    expected = reference(cell)
    try:
        got = read_csv_table(raw, "data.csv")
    except DataError as err:
        assert expected is None, (cell, str(err))
        assert "line 3 (row 2), column 'b'" in str(err)
        return
    assert expected is not None, (cell, got.columns["b"])
    assert got.rows == 2 and bits(got.columns["b"][1]) == bits(expected)


@settings(max_examples=150, deadline=None)
@given(cells=st.lists(st.tuples(CELL, CELL), min_size=1, max_size=6), extra=st.booleans())
def test_fast_and_slow_paths_agree(cells, extra):
    raw = ("a,b" + (",note" if extra else "") + "\n" + "".join(
        f"{csv_cell(a)},{csv_cell(b)}" + (',"t,x"' if extra else "") + "\n" for a, b in cells)).encode()
    outcomes = []
    for read in (lambda: read_csv_table(raw, "data.csv", ["a", "b"], keep_text=True),
                 lambda: slow(raw, ["a", "b"], keep_text=True)):
        try:
            t = read()
            outcomes.append((t.rows, {k: [bits(x) for x in v] for k, v in t.columns.items()}, t.text))
        except DataError as err:
            outcomes.append(str(err))
    assert outcomes[0] == outcomes[1]


FAST_ENGINES = {"polars": (table._read_polars,), "pyarrow": (table._read_arrow,)}


def outcome(read):
    try:
        t = read()
        return t.rows, {k: [bits(x) for x in v] for k, v in t.columns.items()}
    except DataError as err:
        return str(err)


@settings(max_examples=150, deadline=None)
@given(cells=st.lists(st.tuples(CELL, CELL), min_size=1, max_size=6), note_column=st.booleans(),
       blank=st.booleans())
def test_each_fast_reader_alone_agrees_with_the_slow_path(cells, note_column, blank):
    """Unquoted files too (polars takes only those), with an unread text column and blank lines."""
    lines = [f"{csv_cell(a)},{csv_cell(b)}" + (",t x" if note_column else "") for a, b in cells]
    if blank:
        lines.insert(len(lines) // 2, "")
    raw = ("a,b" + (",note" if note_column else "") + "\n" + "\n".join(lines) + "\n").encode()
    expected = outcome(lambda: slow(raw, ["a", "b"]))
    for name, readers in FAST_ENGINES.items():
        with mock.patch.object(table, "FAST_READERS", readers):
            assert outcome(lambda: read_csv_table(raw, "data.csv", ["a", "b"])) == expected, name


class TestPolarsPath:
    def test_a_clean_file_is_read_by_polars(self, monkeypatch):
        def refuse(*args, **kwargs):
            raise AssertionError("pyarrow ran")

        monkeypatch.setattr(table, "FAST_READERS", (table._read_polars, refuse))
        t = read_csv_table(b"x1,y\r\n1.5,2\r\n-3e2,4\r\n", "data.csv", ["x1", "y"])
        assert as_lists(t) == {"x1": [1.5, -300.0], "y": [2.0, 4.0]}

    @pytest.mark.parametrize("raw", [
        b"x1,y\n1,2\n\n3,4\n",  # a blank line: polars makes a row of nulls
        b"x1,y,note\n1,2,a\n3,4\n",  # a column not read: short and long rows could balance out
        b"x1,y\n1\r,2\n",  # a lone CR
        b'x1,y\n"1",2\n',  # quotes
    ])
    def test_declines_what_it_cannot_vouch_for(self, raw):
        header, offset = table._header_and_offset(raw, "data.csv")
        with pytest.raises(table._Declined):
            table._read_polars(raw, offset, "data.csv", header, ["x1", "y"], False)

    @pytest.mark.parametrize("raw, wanted, needle", [
        (b"x,y,z\n1,2,a\rb\n3,4,c\n", ["x"], "line 3 (row 2) has 1 field"),  # a lone CR ends a line
        (b"x,y\n1\r,2\n", ["x", "y"], "line 2 (row 1) has 1 field"),
        (b"x,y\n1,2\n3,4,5\n6\n", ["x"], "line 3 (row 2) has 3 fields"),  # a long and a short row balance
        (b"x,y,z\n1,2,3\n4,5,6,7\n8,9\n", ["x", "y"], "line 3 (row 2) has 4 fields"),
    ])
    def test_what_polars_would_read_differently_is_an_error(self, raw, wanted, needle):
        assert needle in table_error(raw, wanted)

    def test_a_short_row_missing_a_column_not_read_is_still_an_error(self):
        message = table_error(b"x1,y,note\n1,2,a\n3,4\n", ["x1", "y"])
        assert "line 3 (row 2) has 2 fields; the header has 3" in message


# ---------------------------------------------------------------- writing


FINITE = st.floats(min_value=-LARGEST, max_value=LARGEST)  # every value data may hold


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(FINITE, FINITE), min_size=1, max_size=30))
def test_write_csv_round_trip_is_bit_identical(rows):
    x = np.array([r[0] for r in rows])
    yhat = np.array([r[1] for r in rows])
    note = [f"row {i}, \"quoted\"" for i in range(len(rows))]
    out = io.StringIO()
    write_csv(["x", "note", "yhat"], {"yhat": yhat, "x": x, "note": note}, out)
    assert out.getvalue().splitlines()[0] == "x,note,yhat"
    back = read_csv_table(out.getvalue().encode(), "out.csv", ["x", "yhat"], keep_text=True)
    assert back.columns["x"].tobytes() == x.tobytes()
    assert back.columns["yhat"].tobytes() == yhat.tobytes()
    assert back.text == {"note": note}


def test_write_csv_needs_every_header_column_and_equal_lengths():
    with pytest.raises(DataError, match="no column 'y'"):
        write_csv(["x", "y"], {"x": np.array([1.0])}, io.StringIO())
    with pytest.raises(ValueError, match="lengths"):
        write_csv(["x", "y"], {"x": np.array([1.0]), "y": np.array([1.0, 2.0])}, io.StringIO())


# ---------------------------------------------------------------- another delimiter


def written(rows: list[list[str]], delimiter: str) -> bytes:
    import csv

    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


NUMBERS = [["x1", "x2", "y"], ["1.5", "2", "1"], ["-3e2", "0.25", "4"], ["7", "+.5", "8"]]
# A text column whose cells hold every delimiter, a quote and a line break: quoted in each file.
WITH_TEXT = [["x1", "note", "y"], ["1.5", "a, b; c|d\te", "2"], ["-3e2", 'say "hi"\nthere', "4"], ["7", "plain", "8"]]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"], ids=["semicolon", "tab", "bar"])
class TestDelimiter:
    def test_every_path_reads_it_as_the_comma_file_is_read(self, delimiter):
        for rows, keep_text, readers in [(NUMBERS, False, {"polars": table._read_polars, "pyarrow": table._read_arrow}),
                                         (WITH_TEXT, True, {"pyarrow": table._read_arrow})]:
            comma, other = written(rows, ","), written(rows, delimiter)
            wanted = ["x1", "y"] if keep_text else None
            expected = read_csv_table(comma, "data.csv", wanted, keep_text=keep_text)
            header, offset = table._header_and_offset(other, "data.csv", delimiter)
            assert header == rows[0]
            chosen = [name for name in header if wanted is None or name in wanted]
            found = {name: read(other, offset, "data.csv", header, chosen, keep_text, delimiter)
                     for name, read in readers.items()}
            found["slow"] = table._read_slow(other, "data.csv", header, chosen, keep_text, delimiter)
            found["read_csv_table"] = read_csv_table(other, "data.csv", wanted, keep_text=keep_text,
                                                     delimiter=delimiter)
            for name, got in found.items():
                assert as_lists(got) == as_lists(expected) and got.text == expected.text, (name, rows[0])

    def test_a_defect_is_placed_as_in_the_comma_file(self, delimiter):
        rows = [*NUMBERS, ["9", "x", "1"]]
        raw = written(rows, delimiter)
        with pytest.raises(DataError) as info:
            read_csv_table(raw, "data.csv", delimiter=delimiter)
        assert str(info.value) == "data.csv: line 5 (row 4), column 'x2': 'x' is not a decimal number"
        assert table.row_place(raw, "data.csv", 3, delimiter) == "line 4 (row 3)"

    def test_the_comma_file_read_with_it_names_the_comma(self, delimiter):
        with pytest.raises(DataError) as info:
            read_header(written(NUMBERS, ","), "data.csv", delimiter)
        assert "seems to be separated by ','" in str(info.value) and "give --delimiter ','" in str(info.value)


@pytest.mark.parametrize("delimiter, option", [(";", "';'"), ("\t", "tab"), ("|", "'|'")])
def test_a_file_with_another_delimiter_says_which_to_give(delimiter, option):
    with pytest.raises(DataError) as info:
        read_header(written(NUMBERS, delimiter), "data.csv")
    assert str(info.value).endswith(f"and gradcli reads comma-separated values; give --delimiter {option}")


def test_a_small_file_is_read_without_loading_polars_or_pyarrow():
    """Their imports cost 200-300 ms of every command's start; a file under FAST_MIN_BYTES does not need them."""
    import subprocess
    import sys
    from pathlib import Path

    samples = Path(__file__).resolve().parents[2] / "samples"
    code = ("import sys, gradcli; gradcli.train(sys.argv[1]); "
            "print(sorted(name for name in ('polars', 'pyarrow') if name in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, str(samples / "data.csv")], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
