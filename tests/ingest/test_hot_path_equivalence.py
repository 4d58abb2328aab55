"""The postback hot path's shortcuts give exactly what the general path gives: the usual
query read in one step, our own field names taken as they are, answers encoded in one go."""

from __future__ import annotations

import json

import pytest

from clickledger.ingest.hub import encode
from clickledger.ingest.mapping import map_parameters, mapped_fields
from clickledger.ingest.params import drop_auth, parse_pairs, plain_params, to_dict, without_auth
from clickledger.ingest.pipeline import Answer, conflict, rejected
from clickledger.ingest.validate import Invalid

QUERIES = [
    "event=ftd&txn_id=t1&user_id=u1&amount=25.00&cl_key=k&cl_ts=1&cl_sig=ab",
    "", "a=1", "a=", "a", "a=1&&b=2", "&a=1&", "a=1&a=2", "a=b=c", "=1", "a=%20", "a=x+y",
    "a=\x00", "a=1&b", "a=1&b=2&c=3&d=4",
]


@pytest.mark.parametrize("query", QUERIES)
def test_the_usual_query_is_read_exactly_as_the_general_path_reads_it(query: str) -> None:
    def general() -> object:
        try:
            return list(to_dict(parse_pairs(query, 3)).items())
        except Invalid as problem:
            return problem.code

    try:
        plain = plain_params(query, 3)
    except Invalid as problem:
        assert general() == problem.code == "too_many_parameters"
        return
    if plain is not None:  # None: the caller takes the general path
        assert list(plain.items()) == general()


def test_our_own_names_are_taken_as_they_are_and_anything_else_is_mapped() -> None:
    ours = {"event": "ftd", "txn_id": "t1", "user_id": "u1", "amount": "1"}
    assert mapped_fields(ours, {}) is ours and mapped_fields(ours, None) == map_parameters(ours, {})
    aliased = {"type": "ftd", "txn_id": "t1", "Player_ID": "u1"}
    assert mapped_fields(aliased, {}) == map_parameters(aliased, {}) == {
        "txn_id": "t1", "event": "ftd", "user_id": "u1"}
    renamed = {"player": "u1", "event": "ftd"}
    assert mapped_fields(renamed, {"player": "user_id"}) == {"user_id": "u1", "event": "ftd"}


def test_the_signing_parameters_are_dropped_in_place_in_the_same_order() -> None:
    params = {"cl_key": "k", "event": "ftd", "cl_sig": "s", "txn_id": "t", "cl_ts": "1"}
    expected = without_auth(params)
    assert drop_auth(params) is params and list(params.items()) == list(expected.items())


@pytest.mark.parametrize("answer", [
    Answer(200, {"status": "accepted", "event_id": "e1", "txn_id": "t\u00e9\"1",
                 "player_id": "p", "attribution": "click", "affiliate_id": None,
                 "note": "x", "ftd": True}),
    rejected("rate_limited", "too many", 429, retry_after_s=3),
    conflict("e1", "t1"),
    Answer(200, {"status": "ok", "results": [{"index": 0, "amount": 1.5, "ok": False}]}),
])
def test_answers_are_encoded_byte_for_byte_as_before(answer: Answer) -> None:
    assert encode(answer) == json.dumps(answer.body, separators=(",", ":")).encode()
