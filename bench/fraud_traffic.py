"""A labelled, seeded traffic generator for the fraud bench: honest affiliates with realistic
noise, and each fraud pattern mixed in.

Honest noise (what must not be held): carrier-NAT addresses shared by many
players, fast registrants (12–25 s, and a few one-click sign-ups at 6–9 s),
travellers (click abroad, register and deposit at home; some deposit abroad),
couples sharing a tablet, a few family members sharing a card, players who
deposit, barely play and cash out (real, and a judgement call), campaign
launches (a link at 3–4× its usual traffic), a high-quality affiliate at 2.5×
the programme's conversion rate, scalpers who re-enter seconds after closing.

Fraud patterns (label = the rule family meant to catch it; each one also
carries only the side traits such traffic really shows):
- click_flooding: click spam bursts from a small IP pool on one sub-id; the
  players credited are organic sign-ups that happened to pass through;
- bots: headless browsers, HTTP libraries, empty or forged user agents;
- geo_mismatch: clicks through proxies in tier-1 countries, registrations and
  deposits elsewhere, a small pool of proxy exits shared by the ring;
- ctit: click injection — the click fires 1–9 s before the registration;
- duplicate_players: multi-accounting rings sharing a card or a device;
- self_referral: the affiliate signs players up from its own login addresses;
- bonus_abuse: deposit, take the bonus, barely play, withdraw within days;
- conversion_rate: a new affiliate whose "players" convert at ~20 % per click;
- forex_churning: IB clients opening and closing the same size within seconds.
Everything derives from ``random.Random(seed)``: the same seed, the same world.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

START = datetime(2026, 3, 1, tzinfo=UTC)
HONEST = "honest"
PATTERNS = ("click_flooding", "bots", "geo_mismatch", "ctit", "duplicate_players",
            "self_referral", "bonus_abuse", "conversion_rate", "forex_churning")

BROWSER_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Mobile Safari/537.36",
)
BOT_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36",
    "python-requests/2.31.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Safari/605.1.15",  # Safari on Windows: forged
    "",
)
HOME = ("DE", "AT", "SE", "FI", "NO", "GB", "IE", "CA", "NZ", "NL")
ELSEWHERE = ("ES", "FR", "IT", "PT", "GR", "US", "TH")
FARM = ("PH", "VN", "NG", "BD", "PK")


@dataclass
class Click:
    at: datetime
    affiliate: str
    sub1: str
    ip: str
    ua: str
    language: str | None
    country: str
    converting: bool = False
    key: str = ""


@dataclass
class Event:
    at: datetime
    kind: str
    amount_minor: int | None = None
    country: str | None = None
    lots_milli: int | None = None
    instrument: str | None = None
    bets_minor: int | None = None
    bonus_minor: int | None = None
    raw: dict[str, str] = field(default_factory=dict)


@dataclass
class Player:
    key: str
    brand: str  # casino | forex
    affiliate: str
    label: str
    click: Click | None
    registered_at: datetime
    country: str
    events: list[Event] = field(default_factory=list)

    @property
    def converts(self) -> bool:
        return any(e.kind == "ftd" for e in self.events)


@dataclass
class Affiliate:
    key: str
    brand: str
    login_ips: list[str]
    label: str


@dataclass
class Traffic:
    affiliates: list[Affiliate] = field(default_factory=list)
    clicks: list[Click] = field(default_factory=list)
    players: list[Player] = field(default_factory=list)


class _Gen:
    def __init__(self, seed: int, days: int, scale: int) -> None:
        self.rng = random.Random(seed)
        self.days = days
        self.scale = scale
        self.traffic = Traffic()
        self.seq = 0
        self.nat_pool = [f"100.64.{self.rng.randint(0, 63)}.{n}" for n in range(40)]
        self.shared_cards: list[str] = []
        self.shared_devices: list[str] = []

    # --- helpers ---------------------------------------------------------
    def key(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}{self.seq}"

    def ip(self) -> str:
        r = self.rng
        return f"{r.randint(11, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"

    def moment(self, day_from: int = 0) -> datetime:
        day = self.rng.randint(day_from, self.days - 1)
        # traffic peaks in the evening: triangular over the day
        seconds = int(self.rng.triangular(0, 86_399, 70_000))
        return START + timedelta(days=day, seconds=seconds)

    def affiliate(self, brand: str, label: str) -> Affiliate:
        aff = Affiliate(self.key("aff"), brand, [self.ip() for _ in range(2)], label)
        self.traffic.affiliates.append(aff)
        return aff

    def honest_click(self, aff: Affiliate, at: datetime, sub1: str) -> Click:
        r = self.rng
        ip = r.choice(self.nat_pool) if r.random() < 0.06 else self.ip()
        language = None if r.random() < 0.01 else "en-GB,en;q=0.9"
        return Click(at, aff.key, sub1, ip, r.choice(BROWSER_UAS), language, r.choice(HOME))

    def honest_ctit(self) -> timedelta:
        r = self.rng.random()
        if r < 0.002:
            return timedelta(seconds=self.rng.randint(6, 9))  # one-click social sign-up
        if r < 0.03:
            return timedelta(seconds=self.rng.randint(12, 25))
        if r < 0.70:
            return timedelta(seconds=self.rng.randint(30, 900))
        return timedelta(seconds=self.rng.randint(900, 5 * 86_400))

    def add_player(self, aff: Affiliate, click: Click | None, label: str,
                   ctit: timedelta | None = None, country: str | None = None,
                   at: datetime | None = None) -> Player:
        registered = (click.at + (ctit or self.honest_ctit())) if click else (at or self.moment())
        if click is not None:
            click.converting = True
        player = Player(self.key("p"), aff.brand, aff.key, label, click, registered,
                        country or (click.country if click else self.rng.choice(HOME)))
        player.events.append(Event(registered, "registration", country=player.country,
                                   raw={"ip": click.ip if click else self.ip()}))
        self.traffic.players.append(player)
        return player

    def deposit(self, player: Player, delay: timedelta, amount_minor: int,
                country: str | None = None, device: str | None = None,
                card: str | None = None) -> Event:
        raw = {"device_id": device or self.key("dev"), "payment_hash": card or self.key("card")}
        event = Event(player.registered_at + delay, "ftd", amount_minor,
                      country or player.country, raw=raw)
        player.events.append(event)
        return event

    # --- honest ----------------------------------------------------------
    def honest_affiliate(self, brand: str, clicks_per_day: int, reg_rate_pct: int,
                         launch: bool = False) -> None:
        aff = self.affiliate(brand, HONEST)
        r = self.rng
        subs = [f"camp{n}" for n in range(3)]
        launch_day = r.randint(self.days // 2, self.days - 1) if launch else -1
        for day in range(self.days):
            volume = clicks_per_day * (4 if day == launch_day else 1) * r.randint(80, 120) // 100
            for _ in range(volume):
                at = START + timedelta(days=day, seconds=int(r.triangular(0, 86_399, 70_000)))
                click = self.honest_click(aff, at, r.choice(subs))
                self.traffic.clicks.append(click)
                if r.randint(1, 1000) <= reg_rate_pct * 10:
                    self.honest_player(aff, click)

    def honest_player(self, aff: Affiliate, click: Click) -> None:
        r = self.rng
        country = click.country
        if r.random() < 0.04:  # travelled: clicked abroad, registered at home
            click.country = r.choice(ELSEWHERE)
        player = self.add_player(aff, click, HONEST, country=country)
        if r.random() >= 0.4:
            return
        device = card = None
        if r.random() < 0.015 and self.shared_devices:
            device = self.shared_devices.pop()  # a couple's tablet
        elif r.random() < 0.015:
            device = self.key("dev")
            self.shared_devices.append(device)
        if r.random() < 0.002 and self.shared_cards:
            card = self.shared_cards.pop()  # a family card
        elif r.random() < 0.002:
            card = self.key("card")
            self.shared_cards.append(card)
        dep_country = r.choice(ELSEWHERE) if r.random() < 0.015 else player.country
        amount = r.choice((2_000, 5_000, 10_000, 20_000, 50_000))
        ftd = self.deposit(player, timedelta(minutes=r.randint(3, 3_000)), amount,
                           dep_country, device, card)
        if aff.brand == "forex":
            self.honest_trades(player, ftd.at)
        else:
            self.honest_play(player, ftd)

    def honest_play(self, player: Player, ftd: Event) -> None:
        r = self.rng
        deposit = ftd.amount_minor or 0
        roll = r.random()
        if roll < 0.005:  # deposits, barely plays, cashes out: real, and held for review
            bets = deposit * r.randint(10, 60) // 100
            self.activity(player, ftd.at, bets, 0)
            self.withdraw(player, ftd.at + timedelta(hours=r.randint(2, 60)), deposit * 95 // 100)
            return
        bets = deposit * r.randint(150, 1_200) // 100
        self.activity(player, ftd.at, bets, deposit if r.random() < 0.3 else 0)
        if roll < 0.25:  # a winner cashes out after real play
            self.withdraw(player, ftd.at + timedelta(hours=r.randint(6, 200)),
                          deposit * r.randint(80, 300) // 100)

    def activity(self, player: Player, at: datetime, bets_minor: int, bonus_minor: int) -> None:
        player.events.append(Event(at + timedelta(hours=1), "activity", bets_minor=bets_minor,
                                   bonus_minor=bonus_minor))

    def withdraw(self, player: Player, at: datetime, amount_minor: int) -> None:
        player.events.append(Event(at, "withdrawal", amount_minor))

    def honest_trades(self, player: Player, start: datetime) -> None:
        r = self.rng
        at = start + timedelta(minutes=r.randint(5, 600))
        scalper = r.random() < 0.3
        fixed = r.choice((100, 500, 1_000))
        for _ in range(r.randint(6, 40)):
            lots = fixed if scalper else r.choice((10, 50, 100, 200, 500, 1_000, 2_000))
            side = r.choice(("buy", "sell"))
            hold = r.randint(15, 600) if scalper else r.randint(600, 3 * 86_400)
            instrument = r.choice(("EURUSD", "GBPUSD", "XAUUSD", "US30"))
            self.trade(player, at, instrument, side, lots)
            self.trade(player, at + timedelta(seconds=hold), instrument,
                       "sell" if side == "buy" else "buy", lots)
            gap = r.randint(1, 5) if scalper and r.random() < 0.1 else r.randint(30, 7_200)
            at += timedelta(seconds=hold + gap)

    def trade(self, player: Player, at: datetime, instrument: str, side: str,
              lots_milli: int) -> None:
        player.events.append(Event(at, "trade", lots_milli=lots_milli, instrument=instrument,
                                   raw={"side": side}))

    # --- fraud -----------------------------------------------------------
    def fraud_flooding(self, n_players: int) -> None:
        aff = self.affiliate("casino", HONEST)  # the affiliate looks normal but spams one sub
        r = self.rng
        pool = [self.ip() for _ in range(8)]
        for day in range(self.days):
            for _ in range(150):
                at = START + timedelta(days=day, seconds=r.randint(0, 86_399))
                self.traffic.clicks.append(self.honest_click(aff, at, "main"))
        for _ in range(n_players):
            burst_at = self.moment(day_from=min(7, self.days - 1))
            ip = r.choice(pool)
            burst = [Click(burst_at + timedelta(seconds=r.randint(0, 400)), aff.key, "push",
                           ip, r.choice(BROWSER_UAS), "en-US", r.choice(HOME))
                     for _ in range(r.randint(40, 90))]
            self.traffic.clicks += burst
            victim = r.choice(burst)
            player = self.add_player(aff, victim, "click_flooding")
            self.deposit(player, timedelta(hours=r.randint(1, 48)), 5_000)

    def fraud_bots(self, n_players: int) -> None:
        aff = self.affiliate("casino", HONEST)
        r = self.rng
        for _ in range(n_players):
            ua = r.choice(BOT_UAS)
            click = Click(self.moment(), aff.key, "a", self.ip(), ua,
                          None if r.random() < 0.5 else "en-US", r.choice(HOME))
            self.traffic.clicks.append(click)
            player = self.add_player(aff, click, "bots",
                                     ctit=timedelta(seconds=r.randint(15, 400)))
            self.deposit(player, timedelta(minutes=r.randint(10, 600)), 2_000)

    def fraud_geo(self, n_players: int) -> None:
        aff = self.affiliate("casino", HONEST)
        r = self.rng
        proxies = [self.ip() for _ in range(max(2, n_players // 6))]
        for _ in range(n_players):
            click = Click(self.moment(), aff.key, "uk", r.choice(proxies), r.choice(BROWSER_UAS),
                          "en-GB", r.choice(("GB", "SE", "NO")))
            self.traffic.clicks.append(click)
            home = r.choice(FARM)
            player = self.add_player(aff, click, "geo_mismatch", country=home)
            self.deposit(player, timedelta(hours=r.randint(1, 30)), 2_000, home)

    def fraud_ctit(self, n_players: int) -> None:
        aff = self.affiliate("casino", HONEST)
        r = self.rng
        for _ in range(n_players):
            click = self.honest_click(aff, self.moment(), "app")
            self.traffic.clicks.append(click)
            player = self.add_player(aff, click, "ctit", ctit=timedelta(seconds=r.randint(1, 9)))
            self.deposit(player, timedelta(hours=r.randint(1, 48)), 5_000)

    def fraud_duplicates(self, n_players: int) -> None:
        aff = self.affiliate("casino", HONEST)
        r = self.rng
        made = 0
        while made < n_players:
            size = r.randint(3, 6)
            shared = self.key("ring")
            by_card = r.random() < 0.6
            first = self.moment()
            for _ in range(size):
                click = self.honest_click(aff, first + timedelta(hours=r.randint(0, 96)), "r")
                self.traffic.clicks.append(click)
                player = self.add_player(aff, click, "duplicate_players")
                self.deposit(player, timedelta(minutes=r.randint(5, 300)), 2_000,
                             device=None if by_card else shared, card=shared if by_card else None)
                made += 1

    def fraud_self_referral(self, n_players: int) -> None:
        aff = self.affiliate("casino", HONEST)
        r = self.rng
        for _ in range(n_players):
            click = self.honest_click(aff, self.moment(), "me")
            if r.random() < 0.7:
                click.ip = r.choice(aff.login_ips)
            self.traffic.clicks.append(click)
            player = self.add_player(aff, click, "self_referral")
            if click.ip not in aff.login_ips:
                player.events[0].raw["ip"] = r.choice(aff.login_ips)
            self.deposit(player, timedelta(hours=r.randint(1, 24)), 2_000)

    def fraud_bonus(self, n_players: int) -> None:
        aff = self.affiliate("casino", HONEST)
        r = self.rng
        for _ in range(n_players):
            click = self.honest_click(aff, self.moment(), "bonus")
            self.traffic.clicks.append(click)
            player = self.add_player(aff, click, "bonus_abuse")
            amount = r.choice((2_000, 5_000, 10_000))
            ftd = self.deposit(player, timedelta(minutes=r.randint(5, 600)), amount)
            self.activity(player, ftd.at, amount * r.randint(0, 70) // 100, amount)
            self.withdraw(player, ftd.at + timedelta(hours=r.randint(3, 60)),
                          amount * r.randint(85, 100) // 100)

    def fraud_conversion_rate(self, n_players: int) -> None:
        aff = self.affiliate("casino", HONEST)
        r = self.rng
        start_day = self.days - 7
        for _ in range(n_players * 4):
            at = START + timedelta(days=r.randint(start_day, self.days - 1),
                                   seconds=r.randint(0, 86_399))
            self.traffic.clicks.append(self.honest_click(aff, at, "x"))
        converting = r.sample(range(len(self.traffic.clicks) - n_players * 4,
                                    len(self.traffic.clicks)), n_players)
        for index in converting:
            player = self.add_player(aff, self.traffic.clicks[index], "conversion_rate")
            self.deposit(player, timedelta(minutes=r.randint(10, 300)), 2_000)

    def fraud_churning(self, n_players: int) -> None:
        aff = self.affiliate("forex", HONEST)
        r = self.rng
        for _ in range(n_players):
            click = self.honest_click(aff, self.moment(), "ib")
            self.traffic.clicks.append(click)
            player = self.add_player(aff, click, "forex_churning")
            ftd = self.deposit(player, timedelta(minutes=r.randint(10, 300)), 20_000)
            at = ftd.at + timedelta(minutes=r.randint(5, 120))
            for _ in range(r.randint(8, 30)):
                side = r.choice(("buy", "sell"))
                self.trade(player, at, "EURUSD", side, 500)
                self.trade(player, at + timedelta(seconds=r.randint(1, 4)), "EURUSD",
                           "sell" if side == "buy" else "buy", 500)
                at += timedelta(seconds=r.randint(20, 300))


def generate(seed: int = 7, days: int = 21, scale: int = 1) -> Traffic:
    """The labelled world: ``scale`` multiplies honest volume and fraud counts alike."""
    gen = _Gen(seed, days, scale)
    for n in range(10):
        gen.honest_affiliate("casino", 350 * scale, gen.rng.randint(5, 9), launch=n < 2)
    gen.honest_affiliate("casino", 200 * scale, 15)  # high quality: ~2.5x the programme rate
    for _ in range(3):
        gen.honest_affiliate("forex", 150 * scale, 6)
    per = 30 * scale
    gen.fraud_flooding(per)
    gen.fraud_bots(per)
    gen.fraud_geo(per)
    gen.fraud_ctit(per)
    gen.fraud_duplicates(per)
    gen.fraud_self_referral(per)
    gen.fraud_bonus(per)
    gen.fraud_conversion_rate(per)
    gen.fraud_churning(per)
    for n, click in enumerate(gen.traffic.clicks):
        click.key = f"c{n}"
    return gen.traffic
