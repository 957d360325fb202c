"""coreflow_tui.safetext: untrusted text never reaches a terminal as control sequences."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coreflow_tui.safetext import escape_non_sgr, inert, sgr_only

ESC = "\x1b"
# Checked independently of the module's own grammar: a complete SGR with digit parameters.
VALID_SGR = re.compile(r"\x1b\[[0-9;:]*m")
C1 = re.compile(r"[\x80-\x9f]")

# Hostile samples: (name, text, what sgr_only must give).
HOSTILE = [
    ("clear screen", "a\x1b[2J\x1b[Hb", "ab"),
    ("private mode alt screen", "a\x1b[?1049hb\x1b[?25l", "ab"),
    ("cursor moves", "\x1b[10;20Hx\x1b[5A", "x"),
    ("osc title bel", "a\x1b]0;pwned\x07b", "ab"),
    ("osc title st", "a\x1b]2;pwned\x1b\\b", "ab"),
    ("osc 52 clipboard", "a\x1b]52;c;cm0gLXJmIH4K\x07b", "ab"),
    ("osc 8 hyperlink", "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"),
    ("dcs", "a\x1bP1$r0m\x1b\\b", "ab"),
    ("apc pm sos", "a\x1b_x\x1b\\b\x1b^y\x1b\\c\x1bXz\x1b\\d", "abcd"),
    ("8-bit csi", "a\x9b2Jb", "ab"),
    ("8-bit osc", "a\x9d0;t\x9cb\x9d52;c;eA==\x07c", "abc"),
    ("8-bit dcs", "a\x90q\x9cb", "ab"),
    ("reset", "a\x1bcb", "ab"),
    ("charset and keypad", "a\x1b(0b\x1b=c\x1b#8d", "abcd"),
    ("lone esc at end", "ab\x1b", "ab"),
    ("esc then control", "a\x1b\x07b", "ab"),
    ("bell and c0", "a\x07\x08\x0b\x0c\x00b\x7f", "ab"),
    ("c1 controls", "a\x85\x8d\x9cb", "ab"),
    ("incomplete csi", "a\x1b[31", "a31"),
    ("unterminated osc shows its payload", "a\x1b]0;title", "a0;title"),
    ("crlf", "one\r\ntwo", "one\ntwo"),
    ("lone cr cannot overwrite", "rm -rf /\rharmless", "rm -rf /\nharmless"),
    ("bidi override", "abc\u202edcb", "abcdcb"),
    ("lone surrogate", "a\udc9bb", "ab"),
]


@pytest.mark.parametrize(("text", "want"), [(t, w) for _, t, w in HOSTILE], ids=[n for n, _, _ in HOSTILE])
def test_sgr_only_drops_every_control_sequence(text: str, want: str) -> None:
    assert sgr_only(text) == want


def test_sgr_only_keeps_colours_newlines_and_tabs() -> None:
    text = "\x1b[31mred\x1b[0m\n\x1b[1;38;5;208mbold orange\x1b[m\tend\x1b[38:2::255:0:0mtrue\x1b[0m"
    assert sgr_only(text) == text


def test_sgr_with_absurd_parameters_is_not_kept() -> None:
    assert ESC not in sgr_only("\x1b[" + "1;" * 100 + "m")


@pytest.mark.parametrize(("text", "want"), [
    ("a\x1b[2Jb", "a\\x1b[2Jb"),
    ("line\nbreak", "line\\nbreak"),
    ("tab\tcr\r", "tab\\tcr\\r"),
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("del\x7f c1\x9b", "del\\x7f c1\\x9b"),
    ("rtl\u202eevil", "rtl\\u202eevil"),
    ("sep\u2028x", "sep\\u2028x"),
    ("bad\udcffbyte", "bad\\xffbyte"),
    ("surrogate\ud800", "surrogate\\ud800"),
    ("plain ünïcode ✓ \\x1b", "plain ünïcode ✓ \\x1b"),
])
def test_inert_escapes_each_control_character(text: str, want: str) -> None:
    assert inert(text) == want


def test_escape_non_sgr_shows_the_rest_escaped_as_journalctl_does() -> None:
    text = "\x1b[31mred\x1b[0m\x1b[2J\x1b]0;t\x07\r\nnext\x9b1m\tz\rw"
    assert escape_non_sgr(text) == "\x1b[31mred\x1b[0m\\x1b[2J\\x1b]0;t\\x07\nnext\\x9b1m\tz\\rw"


# Text made of the pieces that matter: controls, escape introducers, parameter bytes, and
# complete sequences, so that the generator reaches the interesting interleavings.
PIECES = st.one_of(
    st.characters(max_codepoint=0xA0),
    st.sampled_from([ESC, "[", "]", "P", "\\", "\x07", "\x9b", "\x9c", "\x9d", "m", ";", "0", "31", "?",
                     "\x1b[31m", "\x1b[0m", "\x1b[2J", "\x1b]0;x\x07", "\x1b\\", "\r", "\n", "\u202e"]),
    st.text(max_size=3),
)
HOSTILE_TEXT = st.lists(PIECES, max_size=40).map("".join)


def _outside_sgr(text: str) -> str:
    return VALID_SGR.sub("", text)


@settings(max_examples=400, deadline=None)
@given(HOSTILE_TEXT)
def test_sgr_only_leaves_no_control_but_sgr(text: str) -> None:
    rest = _outside_sgr(sgr_only(text))
    assert ESC not in rest and not C1.search(rest)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069\ud800-\udfff]", rest)


@settings(max_examples=400, deadline=None)
@given(HOSTILE_TEXT)
def test_escape_non_sgr_leaves_no_control_but_sgr(text: str) -> None:
    rest = _outside_sgr(escape_non_sgr(text))
    assert ESC not in rest and not C1.search(rest)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]", rest)


@settings(max_examples=400, deadline=None)
@given(HOSTILE_TEXT)
def test_inert_leaves_no_control_at_all(text: str) -> None:
    out = inert(text)
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]", out)
    out.encode("utf-8")  # no lone surrogate left to crash a writer


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"),
                                      blacklist_characters="\u2028\u2029\u202a\u202b\u202c\u202d\u202e"
                                                           "\u2066\u2067\u2068\u2069")))
def test_printable_text_passes_unchanged(text: str) -> None:
    assert inert(text) == sgr_only(text) == escape_non_sgr(text) == text


def test_long_hostile_input_is_linear() -> None:
    # Unterminated introducers are the pathological case for a backtracking scan.
    for text in ("\x9d" * 200_000, "\x1b]" * 100_000, "\x1b[" + "0" * 200_000, "\x90" * 200_000):
        assert ESC not in _outside_sgr(sgr_only(text))
