"""Personal data and secrets in a text, found by pattern and checked by the pattern's own rule.

Each kind is a regular expression for candidates and a validator that keeps only real ones:
phone numbers through ``phonenumbers`` (Google's libphonenumber metadata: a number must be
valid for its country), card numbers by their issuer prefix and the Luhn digit, IBANs by their
country's length and the mod-97 check, IP addresses by ``ipaddress``, US social security
numbers by their reserved ranges, API keys by their providers' published shapes and long
hex/base64 strings by length and character mix. This is what Presidio's pattern recognizers
do; Presidio itself is not used because presidio-analyzer depends on spaCy and its analyzer
wants a spaCy model, which no package registry serves (README, "The privacy gate").

Person names, street addresses and other free-text identifiers need a language model and are
not found here. A finding carries its kind and span, never a copy of the text.
"""

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

EMAIL = "email"
PHONE = "phone"
CARD = "card"
IBAN = "iban"
IP = "ip"
URL_CREDENTIALS = "url_credentials"
API_KEY = "api_key"
SECRET = "secret"
US_SSN = "us_ssn"
KINDS = (EMAIL, PHONE, CARD, IBAN, IP, URL_CREDENTIALS, API_KEY, SECRET, US_SSN)

# National formats are read as these countries' numbers; a number written with +country code
# is found whatever the region.
PHONE_REGIONS = ("US", "GB")
MIN_PHONE_DIGITS = 7
# Shannon entropy (bits per character) a long base64-like token needs to count as a secret.
MIN_SECRET_ENTROPY = 4.0


@dataclass(frozen=True, order=True)
class Finding:
    start: int
    end: int
    kind: str


_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}"
    r"[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b"
)
_URL_CREDENTIALS = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s/?#@:]+:[^\s/?#@]+@[^\s/?#]+")
_CARD = re.compile(r"(?<![\d+-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}\b")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_SSN = re.compile(r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])")
_API_KEYS = re.compile(
    r"\b(?:sk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_-]{20,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{36,}"
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"
)
_HEX = re.compile(r"(?<![\w])(?:0x)?[0-9A-Fa-f]{32,}(?!\w)")
_BASE64 = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_-]{40,}={0,2}(?![\w+/=-])")

_WORDLIKE = re.compile(r"[a-z]{9,}")
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|5|4[4-9]|22)|35)")
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
    "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26,
    "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(compact: str) -> bool:
    """ISO 13616: the country's length, and the number read with its first four characters
    moved to the end (letters as 10..35) leaves 1 modulo 97."""
    compact = compact.upper()
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in moved)) % 97 == 1


def _matches(pattern: re.Pattern, kind: str, text: str, keep=None) -> Iterable[Finding]:
    for match in pattern.finditer(text):
        if keep is None or keep(match.group(0)):
            yield Finding(match.start(), match.end(), kind)


def _cards(text: str) -> Iterable[Finding]:
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if _CARD_PREFIX.match(digits) and luhn_valid(digits):
            yield Finding(match.start(), match.end(), CARD)


def _ibans(text: str) -> Iterable[Finding]:
    """An IBAN may run into following words ("... 3000 TO"): the candidate is cut to its
    country's length before the check."""
    for match in _IBAN.finditer(text):
        candidate = match.group(0)
        length = _IBAN_LENGTHS.get(candidate[:2].upper())
        if length is None:
            continue
        positions = [i for i, char in enumerate(candidate) if char != " "]
        if len(positions) < length:
            continue
        compact = "".join(candidate[i] for i in positions[:length])
        if iban_valid(compact):
            yield Finding(match.start(), match.start() + positions[length - 1] + 1, IBAN)


def _ipv4_valid(candidate: str) -> bool:
    try:
        ipaddress.IPv4Address(candidate)
    except ValueError:
        return False
    return True


def _ipv6_valid(candidate: str) -> bool:
    groups = [g for g in candidate.split(":") if g]
    if len(groups) < 3 or (not any(c.isalpha() for c in candidate) and "::" not in candidate):
        return len(groups) == 8 and _parses_ipv6(candidate)
    return _parses_ipv6(candidate)


def _parses_ipv6(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _ssn_valid(candidate: str) -> bool:
    area, group, serial = candidate.split("-")
    return not (area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000")


def _entropy(token: str) -> float:
    counts = Counter(token)
    return -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())


def _hex_secret(token: str) -> bool:
    body = token.removeprefix("0x")
    return any(c.isdigit() for c in body) and any(c.isalpha() for c in body)


def _base64_secret(token: str) -> bool:
    """Random, not a path or a slug: a '/' needs base64's '+' or padding beside it, and no
    run of nine lowercase letters (a word) appears."""
    if "/" in token and "+" not in token and not token.endswith("="):
        return False
    return (
        not _WORDLIKE.search(token)
        and any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() for c in token)
        and _entropy(token) >= MIN_SECRET_ENTROPY
    )


def _phones(text: str) -> Iterable[Finding]:
    if sum(c.isdigit() for c in text) < MIN_PHONE_DIGITS:
        return
    import phonenumbers

    for region in PHONE_REGIONS:
        matcher = phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID)
        for match in matcher:
            yield Finding(match.start, match.end, PHONE)


_FINDERS: tuple[Callable[[str], Iterable[Finding]], ...] = (
    lambda t: _matches(_URL_CREDENTIALS, URL_CREDENTIALS, t),
    lambda t: _matches(_EMAIL, EMAIL, t) if "@" in t else (),
    lambda t: _matches(_API_KEYS, API_KEY, t),
    _ibans,
    _cards,
    lambda t: _matches(_SSN, US_SSN, t, _ssn_valid),
    lambda t: _matches(_IPV4, IP, t, _ipv4_valid),
    lambda t: _matches(_IPV6, IP, t, _ipv6_valid) if "::" in t or t.count(":") >= 3 else (),
    _phones,
    lambda t: _matches(_HEX, SECRET, t, _hex_secret),
    lambda t: _matches(_BASE64, SECRET, t, _base64_secret),
)


def find(text: str | None) -> list[Finding]:
    """The findings in ``text`` in reading order. Where two overlap, the one found by the
    stricter finder (earlier in ``_FINDERS``) is kept: a URL's credentials, not the email-like
    ``password@host`` inside them; a card number, not the phone number it also spells."""
    if not text:
        return []
    kept: list[Finding] = []
    for finder in _FINDERS:
        for found in finder(text):
            if all(found.end <= k.start or found.start >= k.end for k in kept):
                kept.append(found)
    return sorted(kept)


def kinds_in(text: str | None) -> list[str]:
    """The kinds found in ``text``, each once, in reading order."""
    return list(dict.fromkeys(f.kind for f in find(text)))
