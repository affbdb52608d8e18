"""The detector: every pattern kind in several formats, and the look-alikes it must pass by."""

import pytest

from lmsys_pipeline.privacy.detect import (
    API_KEY,
    CARD,
    EMAIL,
    IBAN,
    IP,
    PHONE,
    SECRET,
    URL_CREDENTIALS,
    US_SSN,
    find,
    iban_valid,
    kinds_in,
    luhn_valid,
)

POSITIVES = [
    ("write to john.doe@example.com please", EMAIL, "john.doe@example.com"),
    ("To: MARIA_G+news@mail.example.co.uk.", EMAIL, "MARIA_G+news@mail.example.co.uk"),
    ("reply to a.b-c@sub.domain.io", EMAIL, "a.b-c@sub.domain.io"),
    ("call me on (415) 555-0132 tonight", PHONE, "(415) 555-0132"),
    ("my cell is 415-555-0132", PHONE, "415-555-0132"),
    ("text 415.555.0132 now", PHONE, "415.555.0132"),
    ("ring +44 20 7946 0958 after six", PHONE, "+44 20 7946 0958"),
    ("numero +33 1 42 68 53 00 merci", PHONE, "+33 1 42 68 53 00"),
    ("UK mobile 07911 123456", PHONE, "07911 123456"),
    ("whatsapp +4915112345678", PHONE, "+4915112345678"),
    ("card 4111 1111 1111 1111 was declined", CARD, "4111 1111 1111 1111"),
    ("mastercard 5555-5555-5555-4444", CARD, "5555-5555-5555-4444"),
    ("amex 378282246310005 expired", CARD, "378282246310005"),
    ("IBAN DE89 3704 0044 0532 0130 00 TO my mum", IBAN, "DE89 3704 0044 0532 0130 00"),
    ("send it to GB82WEST12345698765432", IBAN, "GB82WEST12345698765432"),
    ("fr7630006000011234567890189 is mine", IBAN, "fr7630006000011234567890189"),
    ("server at 192.168.1.20 is down", IP, "192.168.1.20"),
    ("ping 8.8.8.8", IP, "8.8.8.8"),
    ("v6 2001:db8::ff00:42:8329 here", IP, "2001:db8::ff00:42:8329"),
    ("full fe80:0:0:0:202:b3ff:fe1e:8329 form", IP, "fe80:0:0:0:202:b3ff:fe1e:8329"),
    (
        "postgresql://bob:hunter2@db.example.com/app",
        URL_CREDENTIALS,
        "postgresql://bob:hunter2@db.example.com",
    ),
    ("https://admin:s3cret@10.0.0.5:8080/x", URL_CREDENTIALS, "https://admin:s3cret@10.0.0.5:8080"),
    (
        "key sk-proj-abcdefghijklmnopqrstuvwxyz012345 fails",
        API_KEY,
        "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
    ),
    ("AKIAIOSFODNN7EXAMPLE", API_KEY, "AKIAIOSFODNN7EXAMPLE"),
    (
        "token ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ01",
        API_KEY,
        "ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ01",
    ),
    ("slack xoxb-123456789012-abcdefABCDEF", API_KEY, "xoxb-123456789012-abcdefABCDEF"),
    (
        "google AIzaSyA1234567890abcdefghijklmnopqrstuv",
        API_KEY,
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    ),
    (
        "secret 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        SECRET,
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ),
    (
        "aws wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+ab= done",
        SECRET,
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+ab=",
    ),
    ("ssn 123-45-6789 on file", US_SSN, "123-45-6789"),
]

NEGATIVES = [
    "I was charged $100 twice within 24 hours",
    "My card arrived in 2019 but the PIN from 12/03/2021 fails",
    "Why is there a 1.5% fee on my transfer of 2,500.00 EUR?",
    "set an alarm for 7:30 am and another at 12:30:45",
    "std::vector<int> and a::b::c in C++",
    "version 1.2.3 of the app, build 4.10.2.1a",
    "What is 1234 + 5678?",
    "the order 123456789 has not arrived",
    "tracking number 9400 1000 0000 0000 0000 00",
    "my top-up of 40 pounds on the 3rd",
    "user@ is not an address, nor is @handle",
    "a long word: supercalifragilisticexpialidocious-antidisestablishmentarianism",
    "path src/components/UserProfile/AvatarUploadDialogComponentTests.tsx",
    "https://example.com/docs/getting-started-with-the-python-client",
    "card ending 4242",
    "ssn 000-12-3456 and 666-12-3456 are never issued",
    "IBAN DE00 3704 0044 0532 0130 00 has a wrong check",
    "the number 4111 1111 1111 1112 fails Luhn",
    "",
]


@pytest.mark.parametrize(("text", "kind", "found"), POSITIVES)
def test_finds_each_kind(text: str, kind: str, found: str) -> None:
    findings = find(text)
    assert [(f.kind, text[f.start : f.end]) for f in findings] == [(kind, found)]


@pytest.mark.parametrize("text", NEGATIVES)
def test_passes_look_alikes(text: str) -> None:
    assert find(text) == []


def test_none_and_several_findings_in_reading_order() -> None:
    assert find(None) == []
    text = "mail x@example.org, call +1 415 555 0132, pay GB82WEST12345698765432"
    assert kinds_in(text) == [EMAIL, PHONE, IBAN]


def test_credentials_in_a_url_are_one_finding_not_an_email() -> None:
    assert kinds_in("ftp://me:pw@files.example.com/x") == [URL_CREDENTIALS]


def test_checks() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert iban_valid("GB82WEST12345698765432")
    assert not iban_valid("GB82WEST1234569876543")  # one short
    assert not iban_valid("ZZ82WEST12345698765432")  # no such country
