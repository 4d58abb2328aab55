"""The hot path's prepared inserts and fast parsing store and read exactly what Core would."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from clickledger.ids import new_id
from clickledger.ingest.params import parse_pairs
from clickledger.ingest.prepared import PreparedInsert
from clickledger.ingest.validate import Invalid
from clickledger.store import tables as t

COLUMNS = ("id", "name", "status", "pixel_key", "signing_secret", "require_signature",
           "parameter_map", "brand_id", "created_at", "updated_at")


def _brand(conn: sa.Connection) -> str:
    brand_id = new_id()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    conn.execute(t.brands.insert().values(id=brand_id, name=f"b-{brand_id}", kind="casino",
                                          default_currency="EUR", created_at=now,
                                          updated_at=now))
    return brand_id


def test_a_prepared_insert_stores_what_a_core_insert_stores_and_skips_conflicts(
    engine: sa.Engine,
) -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)
    prepared = PreparedInsert(t.integrations, COLUMNS, ["id"])
    with engine.begin() as conn:
        brand_id = _brand(conn)
        fast_id, core_id = new_id(), new_id()
        values = ("active", None, "s3cret", True, {"sum": "amount"}, brand_id, at, at)
        assert prepared.run(conn, [(fast_id, "fast", *values)]) == 1
        conn.execute(t.integrations.insert().values(dict(zip(COLUMNS, (core_id, "core", *values),
                                                            strict=True))))
        assert prepared.run(conn, [(fast_id, "again", *values)]) == 0  # conflict: skipped
        raw = {row[0]: row[1:] for row in conn.exec_driver_sql(
            "SELECT name, id, brand_id, created_at, parameter_map, require_signature "
            "FROM integrations")}
        read = {row.name: row for row in conn.execute(sa.select(t.integrations))}
    assert raw["fast"][1:] == raw["core"][1:]  # same stored form: ids, time, JSON, flag
    for name, key in (("fast", fast_id), ("core", core_id)):
        assert read[name].id == key and read[name].brand_id == brand_id
        assert read[name].parameter_map == {"sum": "amount"}


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
