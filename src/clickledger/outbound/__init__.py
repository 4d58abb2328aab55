"""Outbound delivery: postbacks and signed webhooks to affiliates' own trackers, via an outbox."""
