"""Unique clicks: the first click of a visitor on a link within one UTC hour.

A visitor is recognised by either of two keys, so that neither cookie-less
repeat clicks nor a visitor whose IP changes count twice:

* the first-party visitor cookie ``cl_vid`` when the browser sends it back (an id
  minted for the current click is not remembered, or every cookie-less client
  would add a key per click), and
* a fingerprint of the stored IP (in its stored form: full, truncated or
  hashed) and the user agent.

A click is unique when neither key has been seen on the same link in the same
hour, and the click is not from a bot.  Keys live in memory in the single
writer thread (64-bit hashes, current and previous hour only) and are
reloaded from the current hour's raw clicks at startup, so a restart does not
recount visitors.  Limits: at most ``max_keys_per_hour`` keys per hour are
remembered; past that, new visitors still count as unique but are not
remembered (a slight over-count, only above that many visitors an hour).  With
several server processes each keeps its own memory, so a visitor whose clicks
land on two processes within an hour can count twice, and a new visitor whose
second click within the hour brings the cookie from another IP counts twice.
"""

from __future__ import annotations

DEFAULT_MAX_KEYS_PER_HOUR = 250_000  # ~20 MB of 64-bit hashes at most per hour
HOURS_KEPT = 2


class UniqueVisitors:
    """Remembers which visitors clicked which link in the recent hours."""

    def __init__(self, max_keys_per_hour: int = DEFAULT_MAX_KEYS_PER_HOUR) -> None:
        self.max_keys_per_hour = max_keys_per_hour
        self._hours: dict[int, set[int]] = {}
        self._newest_hour = 0

    def _keys_for(self, hour: int) -> set[int]:
        keys = self._hours.get(hour)
        if keys is None:
            keys = self._hours[hour] = set()
            if hour > self._newest_hour:
                self._newest_hour = hour
                for old in [h for h in self._hours if h <= hour - HOURS_KEPT]:
                    del self._hours[old]
        return keys

    def first_click(
        self, hour: int, link_id: str, visitor_key: str | None, ip: str | None, user_agent: str
    ) -> bool:
        """True (and remember the visitor) on its first click on ``link_id`` in ``hour``."""
        keys = self._keys_for(hour)
        cookie_key = hash((link_id, visitor_key)) if visitor_key else None
        print_key = hash((link_id, ip, user_agent)) if ip else None
        seen = (cookie_key is not None and cookie_key in keys) or (
            print_key is not None and print_key in keys
        )
        if len(keys) + 2 <= self.max_keys_per_hour:
            if cookie_key is not None:
                keys.add(cookie_key)
            if print_key is not None:
                keys.add(print_key)
        return not seen

    @property
    def remembered_keys(self) -> int:
        return sum(len(keys) for keys in self._hours.values())
