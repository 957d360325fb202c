"""The state machine's spine: one State type, and the file-name grammar built from it."""

from store.layout import ALL_STATES, DONE_RE, FINAL_STATES, PENDING_RE, done_name, pending_name
from store.states import FINAL, LIVE, WAITING, State


def test_sets_partition_the_states():
    assert WAITING | FINAL | {State.RUNNING} == set(State)
    assert not WAITING & FINAL
    assert LIVE == WAITING | {State.RUNNING}
    assert set(ALL_STATES) == set(State) and set(FINAL_STATES) == FINAL


def test_states_are_the_strings_on_disk():
    assert State.SUCCEEDED == "succeeded" and f"{State.HELD}" == "held"


def test_done_grammar_takes_exactly_the_final_states():
    job_id = "0" * 26
    for s in State:
        assert bool(DONE_RE.fullmatch(done_name(job_id, s, 0))) == (s in FINAL)
    m = DONE_RE.fullmatch(done_name(job_id, State.FAILED, 0))
    assert m is not None and m["st"] == State.FAILED


def test_pending_grammar_spells_held_from_the_state():
    name = pending_name(1, 0, "0" * 26, held=True)
    assert name.endswith(".held") and PENDING_RE.fullmatch(name)["st"] == State.HELD

