"""The hot path's fast parsing and id reading give exactly what the general path gives.

(The prepared inserts are tested in ``tests/store/test_inserts.py``.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from clickledger.ids import new_id
from clickledger.ingest import signatures
from clickledger.ingest.mapping import map_parameters
from clickledger.ingest.params import parse_pairs, to_dict
from clickledger.ingest.s2s import signed_parts
from clickledger.ingest.validate import Invalid
from clickledger.store import tables as t


def _brand(conn: sa.Connection) -> str:
    brand_id = new_id()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    conn.execute(t.brands.insert().values(id=brand_id, name=f"b-{brand_id}", kind="casino",
                                          default_currency="EUR", created_at=now,
                                          updated_at=now))
    return brand_id


def test_ids_read_back_in_their_canonical_text_form(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        brand_id = _brand(conn)
        upper = new_id().upper()  # stored as given (upper-case hex): read back normalised
        conn.execute(t.brands.insert().values(id=upper, name="upper", kind="casino",
                                              default_currency="EUR",
                                              created_at=datetime.now(UTC),
                                              updated_at=datetime.now(UTC)))
        ids = set(conn.execute(sa.select(t.brands.c.id)).scalars())
    assert ids == {brand_id, upper.lower()}


QUERY_TEXT = st.text(alphabet="abc=&_-.:19;", max_size=40)


@given(QUERY_TEXT)
def test_a_query_without_escapes_splits_exactly_like_parse_qsl(text: str) -> None:
    expected = parse_qsl(text, keep_blank_values=True, max_num_fields=64)
    assert parse_pairs(text, 64) == expected


def test_too_many_parameters_are_refused_on_the_fast_path_too() -> None:
    with pytest.raises(Invalid) as refused:
        parse_pairs("&".join(f"p{i}=1" for i in range(65)), 64)
    assert refused.value.code == "too_many_parameters"
    assert parse_pairs("a=%41+b&c", 64) == [("a", "A b"), ("c", "")]


QUERY_PARTS = st.lists(st.sampled_from(["a=1", "cl_sig=ab12", "", "xcl_sig=y", "cl_sig=",
                                        "cl_sig", "b=%41", "cl_key=k"]), max_size=6)


@given(QUERY_PARTS)
def test_the_signature_is_cut_out_of_the_query_exactly_as_the_contract_says(
    parts: list[str],
) -> None:
    query = "&".join(parts)
    # the documented rule: every ``cl_sig=…`` part removed, everything else kept as sent
    expected = "&".join(part for part in query.split("&") if not part.startswith("cl_sig="))
    assert signatures.strip_signature(query) == (expected if "cl_sig=" in query else query)


def test_headers_win_over_the_query_and_the_first_of_each_counts() -> None:
    scope = {"headers": [(b"x-cl-timestamp", b"1700000000"), (b"x-cl-key", b"key-from-header"),
                         (b"x-cl-timestamp", b"999")]}
    query = [("cl_key", "key-from-query"), ("cl_sig", "first"), ("cl_sig", "second")]
    parts = signed_parts(scope, query)
    assert parts == signatures.SignedParts("key-from-header", "1700000000", "first")
    assert signed_parts({"headers": []}) == signatures.SignedParts(None, None, None)


def test_a_repeated_parameter_is_refused_after_an_earlier_unreadable_one() -> None:
    assert to_dict([("event", "ftd"), ("amount", "1")]) == {"event": "ftd", "amount": "1"}
    with pytest.raises(Invalid) as repeated:
        to_dict([("event", "ftd"), ("amount", "1"), ("event", "dep")])
    assert repeated.value.code == "duplicate_parameter"
    with pytest.raises(Invalid) as unreadable:  # the first problem in order is the one told
        to_dict([("event", "ftd\x00"), ("event", "dep")])
    assert unreadable.value.code == "invalid_encoding"
    assert to_dict([("user_id", "Jürgen")]) == {"user_id": "Jürgen"}


NAMES = st.sampled_from(["event", "EVENT", " type", "txn_id", "transaction_id", "tid", "sum",
                         "amount", "player_id", "user_id", "Timestamp", "ts", "other"])


@given(st.dictionaries(NAMES, st.text(max_size=3), max_size=8))
def test_names_map_the_same_without_a_map_as_with_a_map_that_names_none_of_them(
    params: dict[str, str],
) -> None:
    assert map_parameters(params, {}) == map_parameters(params, {"unrelated_name": "ts"})
