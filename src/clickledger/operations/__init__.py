"""Operations: Prometheus metrics, readiness, structured logs (what an operator runs it with)."""
