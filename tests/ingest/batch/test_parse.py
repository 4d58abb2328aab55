"""An operator's file is read and checked line by line: every bad line gets a clear
``{line, column, code, message}``, good lines become exact typed rows."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from clickledger.ingest.batch.kinds import FileKind
from clickledger.ingest.batch.limits import ImportLimits
from clickledger.ingest.batch.parse import ParsedFile, parse_bytes, parse_file
from clickledger.ingest.batch.profiles import Profile
from clickledger.ingest.batch.reader import FileError

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LIMITS = ImportLimits()
HEADER = "txn_id,player_id,occurred_at,amount,currency\n"


def parse(text: str | bytes, kind: FileKind = FileKind.DEPOSITS, profile: Profile | None = None,
          name: str = "file.csv", limits: ImportLimits = LIMITS) -> ParsedFile:
    data = text.encode() if isinstance(text, str) else text
    return parse_bytes(data, name, kind, profile or Profile(), NOW, limits)


def errors(parsed: ParsedFile) -> list[tuple[int, str, str]]:
    return [(e["line"], e["column"], e["code"]) for e in parsed.errors.to_dicts()]


def test_bom_crlf_quotes_and_decimal_comma_are_read_exactly() -> None:
    data = (b"\xef\xbb\xbftxn_id,player_id,occurred_at,amount,currency\r\n"
            b'"T,1","p ""1""",2025-12-01 10:00:00,"12,50",eur\r\n'
            b"T2,p2,2025-12-02T08:30:00Z,0.07,EUR\r\n")
    parsed = parse(data)
    assert errors(parsed) == []
    rows = parsed.rows.sort("txn_id")
    assert rows["txn_id"].to_list() == ["T,1", "T2"]
    assert rows["player_id"].to_list() == ['p "1"', "p2"]
    assert rows["amount_t"].to_list() == [1250, 7]
    assert rows["currency"].to_list() == ["EUR", "EUR"]
    assert rows["occurred_at_t"].to_list() == [datetime(2025, 12, 1, 10),
                                               datetime(2025, 12, 2, 8, 30)]


def test_a_semicolon_file_with_decimal_comma_profile_and_own_headers() -> None:
    profile = Profile(name="acme", delimiter=";", decimal_comma=True,
                      columns={"txn_id": "Transaction", "player_id": "Player",
                               "occurred_at": "Date", "amount": "Sum"},
                      date_formats=("%d.%m.%Y %H:%M",), fixed_currency="JPY")
    parsed = parse("Transaction;Player;Date;Sum\n"
                   "A1;p1;31.12.2025 23:59;1500\nA2;p2;01.12.2025 00:00;7,5\n", profile=profile)
    assert errors(parsed) == [(3, "amount", "invalid_amount")]  # JPY has no decimals
    assert parsed.rows["amount_t"].to_list() == [1500]
    assert parsed.rows["currency"].to_list() == ["JPY"]


def test_each_kind_of_bad_line_is_reported_with_its_line_and_code() -> None:
    text = HEADER + (
        "T1,p1,2025-12-01,10.00,EUR\n"          # 2 good
        "T2,p1,2025-12-01,ten,EUR\n"            # 3 wrong type
        "T3,p1,yesterday,1,EUR\n"               # 4 wrong date
        "T4,p1,2025-12-01,1,XYZ\n"              # 5 unknown currency
        "T5,p1,2026-03-01,1,EUR\n"              # 6 future
        "T6,p1,2025-12-01,-1,EUR\n"             # 7 negative
        ",p1,2025-12-01,1,EUR\n"                # 8 missing txn id
        "T8,p1,2025-12-01\n"                    # 9 malformed: too few fields
        'T9,"p1,2025-12-01,1,EUR\n'             # 10 malformed: unbalanced quote
        "T10,p1,2025-12-01,1,EUR,extra\n"       # 11 malformed: too many fields
        "T11,p1,2025-12-01,1.001,EUR\n"         # 12 more decimals than EUR has
    )
    parsed = parse(text)
    assert errors(parsed) == [
        (3, "amount", "invalid_amount"), (4, "occurred_at", "invalid_date"),
        (5, "currency", "unknown_currency"), (6, "occurred_at", "future_date"),
        (7, "amount", "negative_amount"), (8, "txn_id", "missing_txn_id"),
        (9, "", "malformed_line"), (10, "", "malformed_line"), (11, "", "malformed_line"),
        (12, "amount", "invalid_amount"),
    ]
    assert parsed.rows["txn_id"].to_list() == ["T1"]
    message = parsed.errors.filter(pl.col("line") == 9)["message"].item()
    assert message == "expected 5 fields, found 3"


def test_a_file_of_the_wrong_kind_is_refused_as_a_whole() -> None:
    with pytest.raises(FileError) as caught:
        parse("player_id,occurred_at,country\np1,2025-12-01,DE\n", kind=FileKind.TRADES)
    assert caught.value.code == "wrong_kind"
    assert "lots" in caught.value.message


def test_amounts_without_a_currency_are_refused_as_a_whole() -> None:
    with pytest.raises(FileError) as caught:
        parse("txn_id,player_id,occurred_at,amount\nT1,p1,2025-12-01,1\n")
    assert caught.value.code == "missing_currency"


def test_files_over_the_size_or_row_limits_and_binary_files_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_text(HEADER + "T1,p1,2025-12-01,1,EUR\n" * 200)
    with pytest.raises(FileError) as caught:
        parse_file(big, FileKind.DEPOSITS, Profile(), NOW, ImportLimits(max_file_bytes=1024))
    assert caught.value.code == "file_too_large"
    with pytest.raises(FileError) as caught:
        parse(HEADER + "T1,p1,2025-12-01,1,EUR\n" * 3, limits=ImportLimits(max_rows=2))
    assert caught.value.code == "too_many_rows"
    with pytest.raises(FileError) as caught:
        parse(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    assert caught.value.code == "not_text"
    bomb = gzip.compress(b"x" * 5000)
    with pytest.raises(FileError) as caught:
        parse(bomb, limits=ImportLimits(max_unpacked_bytes=2048))
    assert caught.value.code == "file_too_large"


def test_gzip_csv_and_json_lines_read_like_plain_csv() -> None:
    plain = HEADER + "T1,p1,2025-12-01 10:00:00,10.5,EUR\n"
    zipped = parse(gzip.compress(plain.encode()), name="daily.csv.gz")
    jsonl = parse('{"txn_id": "T1", "player_id": "p1", "occurred_at": "2025-12-01 10:00:00", '
                  '"amount": 10.5, "currency": "EUR"}\nnot json\n', name="events.jsonl")
    assert zipped.rows["amount_t"].to_list() == jsonl.rows["amount_t"].to_list() == [1050]
    assert errors(jsonl) == [(2, "", "malformed_line")]


def test_status_words_pick_the_event_kind_or_skip_the_row() -> None:
    profile = Profile(status_words={"FTD": "ftd", "Deposit": "deposit", "Failed": "skip"})
    parsed = parse("txn_id,player_id,occurred_at,amount,currency,status\n"
                   "T1,p1,2025-12-01,1,EUR,FTD\nT2,p1,2025-12-02,1,EUR,deposit\n"
                   "T3,p1,2025-12-03,1,EUR,failed\nT4,p1,2025-12-03,1,EUR,pending\n",
                   profile=profile)
    assert parsed.rows.sort("txn_id")["event_kind"].to_list() == ["ftd", "deposit"]
    assert parsed.skipped == 1
    assert errors(parsed) == [(5, "status", "unknown_status")]


def test_rows_without_txn_ids_get_the_documented_deterministic_key() -> None:
    text = "player_id,activity_day,bets,wins,currency\np1,2025-12-01,100.00,40.5,EUR\n"
    first = parse(text, kind=FileKind.ACTIVITY)
    again = parse(text, kind=FileKind.ACTIVITY)
    key = first.rows["txn_id"].item()
    assert key == again.rows["txn_id"].item()
    assert key == "k1:activity|p1|2025-12-01 00:00:00.000000||EUR||||10000|4050||"


def test_the_same_txn_id_twice_in_a_file_is_a_duplicate_or_a_conflict() -> None:
    parsed = parse(HEADER + "T1,p1,2025-12-01,1,EUR\nT1,p1,2025-12-01,1,EUR\n"
                   "T1,p1,2025-12-01,2,EUR\n")
    assert parsed.rows.height == 1
    assert parsed.duplicates_in_file == 1
    assert errors(parsed) == [(4, "txn_id", "conflicting_txn_id")]


def test_trades_keep_lots_in_thousandths_and_activity_needs_an_amount() -> None:
    trades = parse("txn_id,player_id,occurred_at,lots,instrument\nX1,p1,2025-12-01,0.1,EURUSD\n",
                   kind=FileKind.TRADES)
    assert trades.rows["lots_t"].to_list() == [100]
    activity = parse("player_id,activity_day,bets,currency\np1,2025-12-01,,EUR\n",
                     kind=FileKind.ACTIVITY)
    assert errors(activity) == [(2, "bets/wins/bonus/chargebacks", "missing_value")]


def test_a_short_and_a_long_line_that_balance_each_other_are_both_caught() -> None:
    # 4 + 2 + 6 delimiters = 3 lines x 4: the totals match, the lines do not
    parsed = parse(HEADER + "T1,p1,2025-12-01\nT2,p1,2025-12-01,1,EUR,x,y\n")
    assert errors(parsed) == [(2, "", "malformed_line"), (3, "", "malformed_line")]
