"""With ``log_format=json`` every log line is one JSON object with time, level, logger,
message and the extra fields the call passed; a worker run writes such lines too."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from clickledger.operations.logs import JsonFormatter

SECRET_KEY = "json-logs-secret-key-0123456789abcdefghij"  # 40 characters


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.getLogger("clickledger.test").makeRecord(
        "clickledger.test", logging.WARNING, __file__, 1, message, (), None, extra=extra)
    record.created = 1_767_225_600.25  # 2026-01-01T00:00:00.250Z
    return record


def test_a_log_record_is_one_json_line_with_its_extra_fields() -> None:
    line = JsonFormatter().format(_record("click %s refused", batch_rows=12, ip="198.51.100.4"))

    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-01-01T00:00:00.250Z", "level": "WARNING", "logger": "clickledger.test",
        "message": "click %s refused", "batch_rows": 12, "ip": "198.51.100.4"}


def test_an_exception_and_an_unencodable_value_still_give_one_parsable_line() -> None:
    try:
        raise ValueError("bad row")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info(),
            extra={"path": Path("/a")})

    data = json.loads(JsonFormatter().format(record))

    assert data["path"] == "/a"
    assert "ValueError: bad row" in data["exc_info"]


def test_the_worker_writes_json_lines_when_asked(tmp_path: Path) -> None:
    env = {**os.environ, "CLICKLEDGER_SECRET_KEY": SECRET_KEY, "CLICKLEDGER_LOG_FORMAT": "json",
           "CLICKLEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"}

    result = subprocess.run([sys.executable, "-m", "clickledger", "worker", "--once"],
                            env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    stopped = [line for line in lines if line["message"] == "outbox worker stopped"]
    assert stopped and stopped[0]["delivered"] == 0
