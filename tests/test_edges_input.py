"""Damaged input to `rgou analyze` and `rgou play`: every bad line is a per-line error, never a traceback."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rgou.agents import make_agent
from rgou.analysis import (
    MAX_LINE,
    Analyzer,
    _shown,
    analyze_lines,
    parse_position,
    parse_small_position,
    read_line,
    read_lines,
)
from rgou.cli import main
from rgou.terminal import MAX_INPUT, PlaySession, parse_number, shown

START = {"p1": [4, -1, -1, -1, -1, -1, -1], "p2": [9, -1, -1, -1, -1, -1, -1], "to_move": 2, "dice": 2}
SMALL = {"p1": [-1, 12], "p2": [5, -1], "to_move": 1, "dice": 2}
GOOD = json.dumps(START)
DEEP = "[" * 1000 + "]" * 1000
HUGE = "9" * 5000
FUZZ = settings(max_examples=100, deadline=None)


def _reject(name):
    raise AssertionError(f"{name} in an output line")


def _strict(line: str):
    """json.loads that refuses NaN and Infinity."""
    return json.loads(line, parse_constant=_reject)


@pytest.fixture(scope="module")
def small_table():
    from rgou.solve import solve

    return solve(2)


def _with(position: dict, field: str, value) -> str:
    """position with one field (p1, p1[1], to_move, ...) set to the JSON text value."""
    data = json.loads(json.dumps(position))
    marker = "__VALUE__"
    if "[" in field:
        key, slot = field[:-1].split("[")
        data[key][int(slot)] = marker
    else:
        data[field] = marker
    return json.dumps(data).replace(json.dumps(marker), value)


def _check_lines(lines, analyzer) -> list:
    """analyze_lines over lines: exactly one strict-JSON output per line, errors naming their line."""
    out = list(analyze_lines(lines, analyzer))
    assert len(out) == len(lines)
    for number, (result, error) in enumerate(out, start=1):
        assert _strict(json.dumps(result, allow_nan=False)) == result
        if error is not None:
            assert error.startswith(f"line {number}: ") and result == {"error": error}
    return out


def test_deep_nesting_is_an_error_of_its_line_and_the_run_goes_on(tmp_path, capsys):
    lines = [DEEP, '{"p1": ' + DEEP + "}", _with(START, "p1[0]", DEEP), GOOD]
    out = _check_lines(lines, Analyzer(features=False))
    assert [e is not None for _, e in out] == [True, True, True, False]
    assert "line 1: not valid JSON (nested too deep)" == out[0][1]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    assert main(["analyze", str(src), "--no-features"]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 4 and "Traceback" not in captured.err
    assert "line 3: " in captured.err and "legal_moves" in captured.out.splitlines()[3]


@pytest.mark.parametrize("value", ["null", "[]", "[12]", "12.9", '"12"', "true", "false", "1.7", "12.0", "{}"])
def test_a_square_must_be_an_integer_for_every_table_size(value, small_table):
    for line, parse in (
        (_with(START, "p1[1]", value), parse_position),
        (_with(SMALL, "p1[1]", value), lambda line: parse_small_position(line, 2)),
    ):
        with pytest.raises(ValueError, match=r"p1\[1\] must be an integer -1\.\.20"):
            parse(line)
    out = _check_lines([_with(SMALL, "p1[1]", value), json.dumps(SMALL)], Analyzer(table=small_table))
    assert out[0][1].startswith("line 1: p1[1] must be an integer") and "exact" in out[1][0]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("to_move", "true", "to_move must be an integer 1..2"),
        ("to_move", "1.0", "to_move must be an integer 1..2"),
        ("dice", "2.0", "dice must be an integer 0..4"),
        ("dice", "false", "dice must be an integer 0..4"),
        ("dice", "5", "dice = 5 is out of range 0..4"),
        ("p2[0]", "21", r"p2\[0\] = 21 is out of range -1..20"),
        ("p2[0]", "-2", r"p2\[0\] = -2 is out of range -1..20"),
        ("p2", "null", "p2 must be a list of"),
    ],
)
def test_the_same_strict_checks_for_seven_and_for_two_pieces(field, value, message):
    with pytest.raises(ValueError, match=message):
        parse_position(_with(START, field, value))
    with pytest.raises(ValueError, match=message):
        parse_small_position(_with(SMALL, field, value), 2)


def test_an_invalid_byte_spoils_only_its_line_in_a_file_and_on_stdin(tmp_path, capsys, monkeypatch):
    lines = [GOOD.encode()] * 600
    lines[500] = GOOD.encode()[:10] + b"\xff" + GOOD.encode()[10:]
    data = b"\n".join(lines) + b"\n"
    src = tmp_path / "in.jsonl"
    src.write_bytes(data)
    assert main(["analyze", str(src), "--no-features"]) == 1
    from_file = capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["analyze", "-", "--no-features"]) == 1
    from_stdin = capsys.readouterr()
    assert from_file == from_stdin
    out = [_strict(line) for line in from_file.out.splitlines()]
    assert len(out) == 600 and [k for k, o in enumerate(out, 1) if "error" in o] == [501]
    assert out[500]["error"] == "line 501: not valid UTF-8 (byte 0xff at byte 11)"
    assert from_file.err.strip() == "rgou analyze: line 501: not valid UTF-8 (byte 0xff at byte 11)"


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN", "1e300", "1e400", "-1e400", HUGE, "-" + HUGE])
@pytest.mark.parametrize("field", ["p1[0]", "to_move", "dice"])
def test_non_finite_and_huge_numbers_are_errors_of_their_line(value, field, small_table):
    for position, analyzer in ((START, Analyzer(features=False)), (SMALL, Analyzer(table=small_table))):
        out = _check_lines([json.dumps(position), _with(position, field, value), json.dumps(position)], analyzer)
        assert [e is not None for _, e in out] == [False, True, False]
        assert out[1][1].startswith("line 2: ") and len(out[1][1]) < 200


def test_output_lines_are_strict_json(monkeypatch, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(GOOD + "\n" + GOOD + "\n")
    real = Analyzer.analyze
    calls = []

    def analyze(self, pos):
        calls.append(pos)
        out = real(self, pos)
        if len(calls) == 1:
            out["heuristic"] = float("nan")
        return out

    monkeypatch.setattr(Analyzer, "analyze", analyze)
    assert main(["analyze", str(src), "--no-features"]) == 1
    out = [_strict(line) for line in capsys.readouterr().out.splitlines()]
    assert "line 1: " in out[0]["error"] and "legal_moves" in out[1]


def test_a_key_given_twice_is_an_error_of_its_line(small_table):
    twice = GOOD[:-1] + ', "dice": 3}'
    with pytest.raises(ValueError, match="key 'dice' given twice"):
        parse_position(twice)
    small_twice = json.dumps(SMALL).replace('"p2"', '"p1": [-1, 12], "p2"')
    with pytest.raises(ValueError, match="key 'p1' given twice"):
        parse_small_position(small_twice, 2)
    out = _check_lines([twice, GOOD, _with(START, "p1[0]", '{"a": 1, "a": 2}')], Analyzer(features=False))
    assert [e for _, e in out] == ["line 1: key 'dice' given twice", None, "line 3: key 'a' given twice"]


def test_a_json_error_names_its_column_even_at_the_end_of_the_line(tmp_path, capsys):
    cut = GOOD[:-1]  # the closing brace missing: the error is just past the last character
    src = tmp_path / "in.jsonl"
    src.write_bytes(cut.encode() + b"\r\n" + GOOD.encode() + b"\n")
    assert main(["analyze", str(src), "--no-features"]) == 1
    err = capsys.readouterr().err
    assert f"line 1: not valid JSON (Expecting ',' delimiter at column {len(cut) + 1})" in err


def test_an_endless_line_is_an_error_of_its_line_and_is_never_held_whole(tmp_path, capsys):
    endless = b"[" + b"1," * (2 * MAX_LINE) + b"1]"
    stream = io.BytesIO(endless + b"\n" + GOOD.encode() + b"\n\n")
    lines = list(read_lines(stream))
    assert [len(line) for line in lines] == [MAX_LINE + 1, len(GOOD) + 1, 1]
    out = _check_lines(lines, Analyzer(features=False))
    assert out[0][1] == f"line 1: line too long: over {MAX_LINE:,} bytes (a position takes about 100)"
    assert out[1][1] is None and out[2][1].startswith("line 3: empty line")
    assert read_line(io.StringIO("x" * 50 + "\nnext\n"), 10) == "x" * 11
    src = tmp_path / "in.jsonl"
    src.write_bytes(endless + b"\n" + GOOD.encode() + b"\n")
    assert main(["analyze", str(src), "--no-features"]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2 and "legal_moves" in captured.out.splitlines()[1]
    assert "line 1: line too long" in captured.err


def test_a_value_too_deep_to_show_is_still_a_value_error():
    value: list = []
    for _ in range(5 * sys.getrecursionlimit()):
        value = [value]
    assert _shown(value) == "a list nested too deep"


def test_analyze_and_play_with_standard_streams_closed(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sys, "stdin", None)
    assert main(["analyze", "--no-features"]) == 2
    assert "rgou analyze: error: standard input is closed: give FILE" in capsys.readouterr().err
    assert main(["play", "--seed", "1", "--opponent", "random"]) == 0
    assert "the game stopped before the end" in capsys.readouterr().out
    src = tmp_path / "in.jsonl"
    src.write_text("nonsense\n" + GOOD + "\n")
    monkeypatch.setattr(sys, "stderr", None)
    assert main(["analyze", str(src), "--no-features"]) == 1
    out = [_strict(line) for line in capsys.readouterr().out.splitlines()]  # no error message among the results
    assert len(out) == 2 and out[0]["error"].startswith("line 1: ") and "legal_moves" in out[1]
    monkeypatch.setattr(sys, "stdout", None)
    with pytest.raises(ValueError, match="standard output is closed"):
        PlaySession(make_agent("random", seed=1), stdin=io.StringIO("quit\n"))


def _session(commands: str, **kwargs):
    out = io.StringIO()
    session = PlaySession(make_agent("random", seed=1), stdin=io.StringIO(commands), stdout=out, seed=1, **kwargs)
    return session.run(), out.getvalue()


def test_play_refuses_digits_that_are_not_numbers():
    assert [parse_number(t) for t in ("3", "03", "²", "①", "٣", HUGE, "", "-1", "1.0")] == [3, 3] + [None] * 7
    result, text = _session(f"²\n①\n٣\n{HUGE}\n\udcff\nquit\n")
    assert "'²' is not a move" in text and "'①' is not a move" in text and "'٣' is not a move" in text
    assert f"'{HUGE[:17]}...' is not a move" in text and HUGE not in text
    assert "'\\udcff' is not a move" in text and "you quit" in text and result.winner == 0
    result, text = _session(f"²\n{HUGE}\n①\n2\nquit\n", dice="manual")
    assert text.count("please type the number of dice") == 3 and "you (X) rolled 2" in text


def test_play_reads_a_text_stream_over_bytes_as_bytes_and_refuses_an_endless_line():
    stream = io.TextIOWrapper(io.BytesIO(b"\xff\n" + b"9" * (3 * MAX_INPUT) + b"\n1\nquit\n"))
    out, agent = io.StringIO(), make_agent("random", seed=1)
    result = PlaySession(agent, stdin=stream, stdout=out, seed=1).run()
    text = out.getvalue()
    assert "not valid UTF-8" in text and f"that line is too long (over {MAX_INPUT:,} characters)" in text
    assert f"{agent.name} plays" in text and "you quit" in text and result.winner == 0


def test_play_on_stdin_refuses_an_invalid_byte_and_goes_on():
    done = subprocess.run(
        [sys.executable, "-m", "rgou", "play", "--seed", "1", "--opponent", "random"],
        input=b"\xff\xfe\n\xc3\n1\n\xe2\x91\xa0\nboard\nquit\n",
        capture_output=True,
        timeout=300,
    )
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0 and "Traceback" not in err, err
    assert out.count("not valid UTF-8") == 2 and "'①' is not a move" in out and "you quit" in out


# --- fuzzing: generated damage at every field ---

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.integers(min_value=-3, max_value=22)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=12,
)
RAW_TOKENS = st.sampled_from(["Infinity", "-Infinity", "NaN", "1e300", "1e999", HUGE, "4" * 4301, DEEP, '"²"', '"①"'])


@st.composite
def damaged_line(draw, base: dict) -> bytes:
    """A position line with damage: a field replaced, raw tokens, deep nesting, bytes cut or inserted."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return json.dumps(base).encode()
    if kind == 1:
        field = draw(st.sampled_from(["p1", "p2", "to_move", "dice", "p1[0]", "p2[1]"]))
        return _with(base, field, json.dumps(draw(JSON_VALUES))).encode()
    if kind == 2:
        field = draw(st.sampled_from(["p1", "p2", "to_move", "dice", "p1[1]", "p2[0]"]))
        return _with(base, field, draw(RAW_TOKENS)).encode()
    if kind == 3:
        return json.dumps(draw(JSON_VALUES)).encode()
    if kind == 5:  # a key given twice, the second time with any value
        key = draw(st.sampled_from(["p1", "p2", "to_move", "dice"]))
        return (json.dumps(base)[:-1] + f', "{key}": {json.dumps(draw(JSON_VALUES))}}}').encode()
    line = json.dumps(base).encode()
    at = draw(st.integers(0, len(line)))
    junk = draw(st.binary(max_size=4).filter(lambda b: b"\n" not in b))
    return line[:at] + junk + line[at + draw(st.integers(0, 3)) :]


def _parses_cleanly(parse, line) -> None:
    try:
        parse(line)
    except ValueError:
        pass


@FUZZ
@given(damaged_line(START))
def test_fuzz_the_seven_piece_parser(line):
    _parses_cleanly(parse_position, line)
    try:
        text = line.decode()
    except UnicodeDecodeError:
        return
    _parses_cleanly(parse_position, text)


@FUZZ
@given(damaged_line(SMALL))
def test_fuzz_the_small_parser(line):
    _parses_cleanly(lambda text: parse_small_position(text, 2), line)
    try:
        state = parse_small_position(line, 2)
    except ValueError:
        return
    assert state.dtype == np.int8 and state.shape == (6,)


CHEAP = Analyzer(features=False)


@FUZZ
@given(st.lists(damaged_line(START) | st.binary(max_size=20).filter(lambda b: b"\n" not in b), max_size=6))
def test_fuzz_the_analyze_line_loop(lines):
    _check_lines(lines, CHEAP)


@FUZZ
@given(st.lists(damaged_line(SMALL), max_size=6))
def test_fuzz_the_analyze_line_loop_with_a_small_table(small_table, lines):
    _check_lines(lines, Analyzer(table=small_table))


@FUZZ
@given(st.binary(max_size=200), st.integers(1, 16))
def test_fuzz_read_lines_keeps_every_line_and_bounds_each(data, limit):
    whole = data.split(b"\n")
    whole = whole[:-1] if data.endswith(b"\n") or not data else whole
    for stream in (io.BytesIO(data), io.StringIO(data.decode("latin-1"))):  # bytes and text alike
        lines = list(read_lines(stream, limit))
        assert len(lines) == len(whole)
        for line, original in zip(lines, whole, strict=True):
            raw = line if isinstance(line, bytes) else line.encode("latin-1")
            assert len(raw) <= limit + 1 and (original + b"\n").startswith(raw)


TYPED = st.text(max_size=12) | st.sampled_from(["²", "①", "٣", HUGE, "1", "2", "hint", "board", "0" * 7, "１"])


@FUZZ
@given(TYPED)
def test_fuzz_the_play_number_parser(text):
    number = parse_number(text)
    assert number is None or (text.isascii() and int(text) == number)
    assert len(shown(text)) <= 20 * 12


@FUZZ
@given(st.lists(TYPED.map(lambda t: t.replace("\n", " ").replace("\r", " ")), max_size=8), st.booleans())
def test_fuzz_a_play_session_input(lines, manual):
    result, text = _session("".join(f"{line}\n" for line in lines) + "quit\n", dice="manual" if manual else "auto")
    assert "Traceback" not in text and result.winner in (0, 1, 2)


@FUZZ
@given(st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b" ")), max_size=8), st.booleans())
def test_fuzz_a_play_session_on_raw_bytes(lines, manual):
    stream = io.TextIOWrapper(io.BytesIO(b"".join(line + b"\n" for line in lines) + b"quit\n"))
    out = io.StringIO()
    session = PlaySession(
        make_agent("random", seed=1), stdin=stream, stdout=out, seed=1, dice="manual" if manual else "auto"
    )
    result = session.run()
    assert "Traceback" not in out.getvalue() and result.winner in (0, 1, 2)


def test_a_position_of_another_size_than_the_table_names_both(small_table):
    """Analyzer(table=2-piece).analyze(a 7-piece Position) said only 'state must have shape (6,) ...'."""
    from rgou.game import Position

    with pytest.raises(ValueError, match="the analyzer's table is of the 2-piece game and a Position has 7 pieces"):
        Analyzer(table=small_table).analyze(Position.initial(2))
