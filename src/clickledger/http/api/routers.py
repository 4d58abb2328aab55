"""Every API router, in one list the app and the authorization matrix test both read."""

from __future__ import annotations

from fastapi import APIRouter

from clickledger.http.api.endpoints import access, affiliates, brands, links, offers, promo_codes

ROUTERS: list[APIRouter] = []

# Admin API: programme set-up, keys, the caller and the audit log.
ROUTERS += [brands.router, offers.router, affiliates.router, links.router, promo_codes.router,
            access.router]

# Outbound postbacks: templates per affiliate, the delivery log and manual re-send.
from clickledger.http.api.endpoints import postbacks  # noqa: E402

ROUTERS += [postbacks.router]

# Inbound integrations: operator integrations and their health; manager remap of a player.
from clickledger.http.api.endpoints import integrations, player_bindings  # noqa: E402

ROUTERS += [integrations.router, player_bindings.router]

# Payouts: runs (four eyes), payment files, payment details (manager-confirmed), statements.
from clickledger.http.api.endpoints import payment_details, payouts, statements  # noqa: E402

ROUTERS += [payouts.router, payment_details.router, statements.router]

# Commission engine: deals and FX rates (managers write), ledger reads and simulation.
from clickledger.http.api.endpoints import deals as deal_routes  # noqa: E402
from clickledger.http.api.endpoints import ledger as ledger_routes  # noqa: E402

ROUTERS += [deal_routes.router, ledger_routes.router]

# Fraud: the managers' review queue (confirm / dismiss) and the affiliate's "why held".
from clickledger.http.api.endpoints import fraud as fraud_routes  # noqa: E402

ROUTERS += [fraud_routes.router]

# Batch import (uploads, jobs, mapping profiles) and reconciliation of operator statements.
from clickledger.http.api.endpoints import imports as import_routes  # noqa: E402
from clickledger.http.api.endpoints import reconciliation as recon_routes  # noqa: E402

ROUTERS += [import_routes.router, recon_routes.router]

# Reports API (rollups) and the web pages: sign-in, affiliate portal, manager console.
from clickledger.http.api.endpoints import reports as report_routes  # noqa: E402
from clickledger.web import console as web_console  # noqa: E402
from clickledger.web import portal as web_portal  # noqa: E402
from clickledger.web import routes_auth as web_auth  # noqa: E402

ROUTERS += [report_routes.router, web_auth.router, web_portal.router, web_console.router]
