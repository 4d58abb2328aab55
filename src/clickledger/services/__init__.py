"""Use cases: each module is one step of the lifecycle, run inside a caller's transaction."""
