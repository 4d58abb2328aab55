"""Fraud rules: pure functions from evidence to scored, explained signals, and the scorer.

Each rule family lives in its own module and returns ``Signal``s: points, a
human-readable reason and the numbers behind it.  ``scoring`` combines them
with per-family weights into an action (allow, flag, hold, reject).  Nothing
here reads the clock or a database: services gather the facts and pass them in.
"""

from clickledger.domain.fraud.scoring import Action, FraudPolicy, Verdict, merge_signals, score
from clickledger.domain.fraud.signals import RULE_FAMILIES, Signal

__all__ = [
    "RULE_FAMILIES", "Action", "FraudPolicy", "Signal", "Verdict", "merge_signals", "score",
]
