"""The server starts without the heavy libraries: they load when a feature first needs them.

polars (with numpy), fpdf, sepaxml and schwifty together cost ~65 MB of RSS.
``create_app`` must not import them; each test runs a fresh interpreter so the
imports other tests made do not hide a regression.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY_MODULES = ("polars", "numpy", "fpdf", "sepaxml", "schwifty")
TIMEOUT_S = 120

_PROBE = """
import json, sys
from clickledger.http.app import create_app
from clickledger.runtime import Runtime
from clickledger.settings import Settings

runtime = Runtime.open(Settings(database_url=sys.argv[1], secret_key="x" * 40))
app = create_app(runtime)
after_create = [m for m in sys.argv[2:] if m in sys.modules]
from fastapi.testclient import TestClient
assert TestClient(app).get("/openapi.json").status_code == 200
after_openapi = [m for m in sys.argv[2:] if m in sys.modules]
{extra}
runtime.engine.dispose()
print(json.dumps({{"after_create": after_create, "after_openapi": after_openapi,
                  "after_use": [m for m in sys.argv[2:] if m in sys.modules]}}))
"""


def _probe(tmp_path: Path, extra: str = "") -> dict[str, list[str]]:
    database_url = f"sqlite:///{tmp_path / 'footprint.db'}"
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE.format(extra=extra), database_url, *HEAVY_MODULES],
        cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    assert completed.returncode == 0, completed.stderr
    result: dict[str, list[str]] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def test_serving_the_api_loads_no_dataframe_pdf_sepa_or_iban_library(tmp_path: Path) -> None:
    result = _probe(tmp_path)
    assert result["after_create"] == []
    assert result["after_openapi"] == []


def test_the_heavy_libraries_still_load_when_a_feature_is_used(tmp_path: Path) -> None:
    use = (
        "from clickledger.domain.payment_methods import validate_iban\n"
        "assert validate_iban('DE89 3704 0044 0532 0130 00') == 'DE89370400440532013000'\n"
        "from clickledger.ingest.batch.report import errors_csv\n"
        "import polars\n"
        "errors_csv(polars.DataFrame({'line': [2], 'column': ['a'], 'code': ['c'],"
        " 'message': ['=1']}), 10)\n"
    )
    result = _probe(tmp_path, use)
    assert result["after_create"] == []
    assert {"schwifty", "polars"} <= set(result["after_use"])
