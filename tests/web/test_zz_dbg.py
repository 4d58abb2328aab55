import logging
from tests.web.conftest import Site, site  # noqa
from tests.web.test_portal_and_console import _traffic
import pytest
@pytest.mark.parametrize("n", range(4))
def test_x(site, caplog, n):
    caplog.set_level(logging.ERROR)
    try:
        _traffic(site)
    finally:
        for r in caplog.records:
            print(r.getMessage()); 
            if r.exc_text: print(r.exc_text[-3000:])
