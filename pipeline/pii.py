"""PII masking: e-mail addresses, phone numbers, IPv4 and IPv6 addresses.

Find candidates with a regex, then validate each one, because the costly mistakes are the false
positives: version numbers (1.2.3.4), dates, prices, ISBNs, times, MAC addresses, retina image
names (icon@2x.png) and code must come through untouched. IP addresses are validated with
`ipaddress` and, by default, only public (globally routable) ones are masked.
"""
from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import dataclass

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}(?![\w-])")
NOT_TLD = {"png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js", "ts", "py", "md", "txt", "html", "json"}

_SEP = r"[ .-]"
# A phone number is a whole run of digit groups: not glued to other numbers or words.
PHONE = re.compile(
    r"(?<![\w.+/-])(?<!\d )(?:"
    r"(?:\+|00)\d{1,3}" + _SEP + r"?(?:\(\d{1,4}\)|\d{1,4})(?:" + _SEP + r"?\d{2,4}){1,5}"  # international
    r"|\(\d{2,5}\)" + _SEP + r"?\d{2,4}(?:" + _SEP + r"\d{2,4}){1,3}"                          # (area) local
    r"|\d{2,5}" + _SEP + r"\d{2,4}(?:" + _SEP + r"\d{2,4}){1,3}"                               # area-local
    r")(?![\w.-]*\d)(?!\w)(?![/:])(?! \d)")
DATE = re.compile(r"^(?:\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}|\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4})$")
YEAR = re.compile(r"^(?:1[89]|20|21)\d\d$")

IPV4 = re.compile(r"(?<![\w.:])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)(?!\.\w)(?!\w)")
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])")
# Words that make a dotted number a version, section or build number rather than an address.
NUMBER_CONTEXT = re.compile(r"(?<!\w)(?:version|ver\.?|release|build|v|section|chapter|figure|fig\.?|table|"
                            r"rule|step|isbn(?:-1[03])?|oid|§)\s*[:=]?\s*['\"]?$", re.I)


@dataclass(frozen=True)
class PiiConfig:
    email: bool = True
    phone: bool = True
    ip: bool = True
    public_ips_only: bool = True
    email_placeholder: str = "<EMAIL>"
    phone_placeholder: str = "<PHONE>"
    ip_placeholder: str = "<IP_ADDRESS>"


def _context_says_number(text: str, start: int) -> bool:
    return bool(NUMBER_CONTEXT.search(text[max(0, start - 16):start]))


def _valid_email(m: re.Match) -> bool:
    return m.group(0).rsplit(".", 1)[1].lower() not in NOT_TLD


def _valid_phone(m: re.Match, text: str) -> bool:
    s = m.group(0)
    digits = sum(c.isdigit() for c in s)
    if not 9 <= digits <= 15 or DATE.match(s) or _context_says_number(text, m.start()):
        return False
    if not re.search(r"[ .()-]", s.lstrip("+")):
        return False  # an unformatted run of digits is as likely an id or a constant
    groups = [g for g in re.split(r"[ .()+-]+", s) if g]
    if all(YEAR.match(g) for g in groups) or re.search(r"\((?:1[89]|20)\d\d\)", s):
        return False  # year ranges (2019-2020-2021) and citations: (1982) 1286-1304
    if all(len(g) == 2 for g in groups) and not groups[0].startswith("0") and not s.startswith("+"):
        return False  # rows of small numbers; 2-digit phone groups (01 42 68 53 00) start with 0
    if "." in s and (len(set(re.findall(r"[ .-]", s))) > 1 or IPV4.fullmatch(s)):
        return False  # dotted phones use one separator kind; a dotted quad is an address or mask
    return True


def _valid_ip(s: str, text: str, start: int, public_only: bool) -> bool:
    if _context_says_number(text, start):
        return False
    try:
        ip = ipaddress.ip_address(s)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and (
            sum(1 for g in s.split(":") if g) < 3 or not any(c.isdigit() for c in s)):
        return False  # slices (x[24::3]), C++ scopes (std::vector), words (dead::beef)
    return (ip.is_global and not ip.is_multicast) if public_only else True


def _mask(rx: re.Pattern, text: str, kind: str, placeholder: str, valid, counts: Counter) -> str:
    """Replace the matches of rx that `valid(match, text)` accepts, counting them under kind."""
    def repl(m: re.Match) -> str:
        if valid(m, text):
            counts[kind] += 1
            return placeholder
        return m.group(0)
    return rx.sub(repl, text)


def mask_pii(text: str, cfg: PiiConfig = PiiConfig()) -> tuple[str, Counter]:
    """Replace PII by placeholders; returns the new text and counts by type."""
    counts: Counter = Counter()
    ip_ok = lambda m, t: _valid_ip(m.group(0), t, m.start(), cfg.public_ips_only)  # noqa: E731
    if cfg.email and "@" in text:
        text = _mask(EMAIL, text, "email", cfg.email_placeholder, lambda m, t: _valid_email(m), counts)
    if cfg.ip and "." in text:
        text = _mask(IPV4, text, "ipv4", cfg.ip_placeholder, ip_ok, counts)
    if cfg.ip and ("::" in text or text.count(":") >= 7):
        text = _mask(IPV6, text, "ipv6", cfg.ip_placeholder, ip_ok, counts)
    if cfg.phone:
        text = _mask(PHONE, text, "phone", cfg.phone_placeholder, _valid_phone, counts)
    return text, counts
