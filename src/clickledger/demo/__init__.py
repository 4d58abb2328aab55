"""``clickledger demo``: a fresh database, a sample programme, live simulated traffic."""
