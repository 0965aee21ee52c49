"""The many ways channels spell one phone number or email address."""

import random
from collections.abc import Callable
from dataclasses import dataclass

# What connectors send when there is no usable number; valid for the contract, useless to match.
UNPARSEABLE_PHONES = ("12ab", "unknown", "+", "000", "n/a", "anonymous", "+7 (9", "0")
_NBSP = "\u00a0"


@dataclass(frozen=True)
class PhonePlan:
    """How a country writes its numbers: calling code, national number, digit groups, trunk."""

    cc: str
    nsn: str
    groups: tuple[int, ...]
    trunk: str

    def parts(self) -> list[str]:
        """The national number cut into its usual groups."""
        out, at = [], 0
        for size in self.groups:
            out.append(self.nsn[at : at + size])
            at += size
        return out

    def grouped(self, sep: str) -> str:
        """The national number with `sep` between the groups."""
        return sep.join(self.parts())


def phone_plan(e164: str) -> PhonePlan:
    """The plan of a canonical number from the demo countries (RU, GB, US, DE)."""
    if e164.startswith("+7"):
        return PhonePlan("7", e164[2:], (3, 3, 2, 2), "8")
    if e164.startswith("+44"):
        nsn = e164[3:]
        return PhonePlan("44", nsn, (2, 4, 4) if nsn.startswith("20") else (4, 6), "0")
    if e164.startswith("+1"):
        return PhonePlan("1", e164[2:], (3, 3, 4), "1")
    if e164.startswith("+49"):
        nsn = e164[3:]
        head = 2 if nsn.startswith("30") else 3
        return PhonePlan("49", nsn, (head, len(nsn) - head), "0")
    raise ValueError(f"expected a +7, +44, +1 or +49 number, got {e164!r}")


def _national(plan: PhonePlan, rng: random.Random) -> str:
    p = plan.parts()
    head, rest = p[0], " ".join(p[1:])
    if plan.cc == "7":
        return rng.choice(
            (
                f"8 ({head}) {p[1]}-{p[2]}-{p[3]}",
                f"8-{head}-{p[1]}-{p[2]}-{p[3]}",
                f"8{plan.nsn}",
                f"8 {head} {p[1]} {p[2]} {p[3]}",
                f"({head}) {p[1]}-{p[2]}{p[3]}",
            )
        )
    if plan.cc == "1":
        return rng.choice(
            (
                f"({head}) {p[1]}-{p[2]}",
                f"{head}-{p[1]}-{p[2]}",
                f"{head}.{p[1]}.{p[2]}",
                f"1-{head}-{p[1]}-{p[2]}",
                plan.nsn,
            )
        )
    return rng.choice(
        (
            f"0{head} {rest}",
            f"(0{head}) {rest}",
            f"0{plan.nsn}",
            f"0{head}/{rest.replace(' ', '')}" if plan.cc == "49" else f"0{head}-{rest}",
        )
    )


def _international(plan: PhonePlan, rng: random.Random) -> str:
    head, *rest = plan.parts()
    options = [
        f"+{plan.cc}{plan.nsn}",
        f"+{plan.cc} {plan.grouped(' ')}",
        f"+{plan.cc}-{plan.grouped('-')}",
        f"+{plan.cc}.{plan.grouped('.')}",
        f"+{plan.cc} ({head}) {'-'.join(rest)}",
    ]
    if plan.trunk == "0":
        # Countries dialling abroad with 00 also write their own numbers that way.
        options.append(f"00{plan.cc} {plan.grouped(' ')}")
        options.append(f"+{plan.cc} (0){head} {' '.join(rest)}")
    return rng.choice(options)


def _tel_uri(plan: PhonePlan, rng: random.Random) -> str:
    uri = f"tel:+{plan.cc}-{plan.grouped('-')}"
    return uri + f";ext={rng.randint(10, 999)}" if rng.random() < 0.3 else uri


def _with_extension(plan: PhonePlan, rng: random.Random) -> str:
    base = _national(plan, rng) if rng.random() < 0.5 else _international(plan, rng)
    marker = rng.choice((" ext. ", " x", ";ext=", " доб. " if plan.cc == "7" else " ext "))
    return f"{base}{marker}{rng.randint(10, 999)}"


_PHONE_STYLES: tuple[tuple[Callable[[PhonePlan, random.Random], str], float], ...] = (
    (_national, 0.4),
    (_international, 0.35),
    (_tel_uri, 0.15),
    (_with_extension, 0.1),
)


def spell_phone(e164: str, rng: random.Random) -> str:
    """One way a channel could write `e164`: national or international, punctuated, as a URI."""
    styles, weights = zip(*_PHONE_STYLES, strict=True)
    spelled = rng.choices(styles, weights)[0](phone_plan(e164), rng)
    return _untidy(spelled, rng)


def spell_email(email: str, display_name: str, rng: random.Random) -> str:
    """One way a channel could write `email`: any case, with a display name, as a URI."""
    address = rng.choice(
        (email, email, _random_case(email, rng), email.upper(), _capitalised_domain(email))
    )
    first, _, last = display_name.partition(" ")
    spelled = rng.choice(
        (
            address,
            address,
            f"{display_name} <{address}>",
            f'"{last}, {first}" <{address}>',
            f"<{address}>",
            f"mailto:{address}",
        )
    )
    return _untidy(spelled, rng)


def _random_case(text: str, rng: random.Random) -> str:
    return "".join(ch.upper() if rng.random() < 0.3 else ch for ch in text)


def _capitalised_domain(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local.capitalize()}@{domain.capitalize()}"


def _untidy(text: str, rng: random.Random) -> str:
    """Stray whitespace and non-breaking spaces, as copied from documents and forms."""
    roll = rng.random()
    if roll < 0.08:
        return f" {text}  "
    if roll < 0.12:
        return text.replace(" ", _NBSP)
    return text
