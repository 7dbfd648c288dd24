"""PII masking: >= 30 positive and >= 30 negative examples per type.

Negatives are what a naive pattern masks by mistake: versions, dates, prices, ISBNs, times, MAC
addresses, slices and scopes in code, numbers in tables and citations.
"""
from __future__ import annotations

import pytest

from pipeline.pii import PiiConfig, mask_pii

EMAILS = ["jane.doe@example.com", "j.smith@mail.co.uk", "info@firma-muster.de", "first+tag@gmail.com",
          "x_y@sub.domain.org", "ADMIN@EXAMPLE.NET", "a1b2@c3d4.io", "support@help.example.travel",
          "o'brien@example.ie".replace("'", ""), "name.surname@uni-heidelberg.de", "user%list@lists.example.org",
          "test123@test-mail.example", "hello@world.dev", "sales@shop.example.shop", "m@x.fr",
          "long.address.with.dots@very.long.sub.domain.example.com", "dev-team@company.co",
          "no_reply@notify.example.app",
          "j@example.museum", "contact@example.info", "office@example.at", "kontakt@beispiel.ch",
          "hr@example.jobs", "root@mail.example.edu", "ceo@example.biz", "abc.def@ghi.jkl.mn",
          "someone@example.cat", "press@example.news", "team@example.xyz", "billing@example.store"]
NOT_EMAILS = ["icon@2x.png", "logo@3x.jpg", "@decorator", "user@localhost", "a @ b", "foo@bar",
              "me@", "@home", "git@github", "email me at jane dot doe", "price@ 5", "x@y",
              "matrix @ vector", "a@b.c", "sprite@2x.webp", "style@media.css", "@media screen",
              "array @ other", "name@@example.com.", "@@", "user at example dot com", "npm i pkg@1.2.3",
              "pkg@latest", "@types/node", "x = a@b", "file@v2.json", "bg@1x.svg", "img@4x.gif",
              "@staticmethod", "team@@"]
PHONES = ["+1 415 555 0132", "(415) 555-0132", "415-555-0132", "415.555.0132", "+44 20 7946 0958",
          "+49 30 901820", "+33 1 42 68 53 00", "020 7946 0958", "01 42 68 53 00", "+1-202-555-0199",
          "0049 30 12345678", "+81 3-1234-5678", "+61 2 9876 5432", "(02) 9876 5432", "+34 912 345 678",
          "+39 06 1234 5678", "0161 496 0000", "+353 1 234 5678", "212-555-0147", "(212) 555 0147",
          "+7 495 123-45-67", "+46 8 123 456 78", "030 1234 5678", "+31 20 123 4567", "+1 (617) 555-0100",
          "+90 212 555 12 34", "+86 10 1234 5678", "+55 11 91234-5678", "+27 21 123 4567", "+91 22 1234 5678"]
NOT_PHONES = ["2024-05-01", "05.11.2024", "12/05/2023", "version 3.10.12", "v2.0.1", "ISBN 978-3-16-148410-0",
              "ISBN 0-306-40615-2", "$1,234.56", "1,000,000", "12:30:45", "0x7fffffff", "1234567890",
              "-2147483648 +2147483647", "1.0 +1.0", "3.39949503 +11.82123994j", "(1982) 1286-1304",
              "122 (2018) 92-100", "2019-2020-2021", "10 14 14 18 20 22 24 25", "[10 11 12 13 14]",
              "255.255.255.224", "192.168.0.1", "1999-2004", "pages 165-184", "room 12-34", "1e-10",
              "call 555-0132", "x = 4155550132", "10.0.19041.1110", "Section 2.3.1"]
IPV4 = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "151.101.1.69", "203.0.114.5", "45.33.32.156",
        "104.16.132.229", "13.107.42.14", "52.95.110.1", "172.217.16.142", "31.13.71.36", "66.220.144.0",
        "185.199.108.153", "140.82.112.3", "198.41.0.4", "199.7.83.42", "202.12.27.33", "80.80.80.80",
        "9.9.9.9", "64.233.160.0", "17.253.144.10", "23.45.67.89", "212.58.244.22", "81.2.69.160",
        "5.6.7.8", "100.42.1.1", "123.45.67.89", "200.1.2.3", "77.88.55.66", "1.2.3.4"]
NOT_IPV4 = ["192.168.1.1", "10.0.0.1", "127.0.0.1", "172.16.5.4", "0.0.0.0", "255.255.255.255",
            "192.0.2.1", "198.51.100.7", "203.0.113.9", "169.254.1.1", "version 1.2.3.4", "v10.0.0.1",
            "release 2.10.1.3", "build 4.5.6.7", "Section 2.2.24.1", "1.2.3.4.5", "256.1.1.1",
            "1.2.3", "3.14.159.265", "OID 1.3.6.1.4.1", "ISBN 1.2.3.4", "table 4.1.2.3", "fig. 1.1.1.1",
            "100.64.0.1", "224.0.0.1", "a.b.c.d", "1.2.3.4a", "x1.2.3.4", "9999.1.1.1", "step 5.1.2.3"]
IPV6 = ["2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001:81a::200e", "2620:fe::fe",
        "2001:500:2f::f", "2a03:2880:f10f:83:face:b00c:0:25de", "2607:f8b0:4005:80a::200e",
        "2001:67c:2e8:22::c100:68b", "2400:cb00:2048:1::c629:d7a2", "2620:0:2d0:200::7",
        "2a02:26f0:fe::5c", "2604:a880:400:d0::1", "2001:41d0:8:e8ad::1", "2c0f:fb50:4003::1",
        "2405:200:1602::1", "2a01:4f8:c17:1::1", "2001:1900:2100::1", "2600:1406:3a00:21::173e:2e65",
        "2a04:4e42:200::323", "2001:470:0:76::2", "2620:119:35::35", "2001:1608:10:25::1c04:b12f",
        "2a00:1450:400c:c06::8b", "2001:4998:c:1023::4", "2a05:d014:a8c:1a00::1", "2406:da18:f3::1",
        "2001:19f0:5:6::1", "2a01:111:f400:7e8b::4", "2620:149:af0::10", "2a0b:4340:a0::1"]
NOT_IPV6 = ["::1", "fe80::1", "fd00::1234:5678", "2001:db8::1", "::", "std::vector", "x[24::3]",
            "a[::2]", "dead::beef", "12:30:45", "00:1A:2B:3C:4D:5E", "ff02::1", "bands[1::2]",
            "Foo::Bar::Baz", "10:20", "1::2", "::ffff:192.168.0.1", "fc00::1", "ascent[::16, ::16]",
            "2001:db8:85a3::8a2e:370:7334", "http://host:8080/", "a:b:c", "1:2:3", "ab::cd",
            "C:\\Users\\x", "time 23:59:59", "ratio 16:9", "John 3:16", "::/0", "100::1"]


def masked(text: str) -> dict:
    return dict(mask_pii(text, PiiConfig())[1])


def test_enough_examples():
    for pos, neg in ((EMAILS, NOT_EMAILS), (PHONES, NOT_PHONES), (IPV4, NOT_IPV4), (IPV6, NOT_IPV6)):
        assert len(pos) >= 30 and len(neg) >= 30


@pytest.mark.parametrize("kind,examples", [("email", EMAILS), ("phone", PHONES), ("ipv4", IPV4), ("ipv6", IPV6)])
def test_positives_are_masked_in_a_sentence(kind, examples):
    missed = [e for e in examples if masked(f"Contact us at {e} today.") != {kind: 1}]
    assert missed == []


@pytest.mark.parametrize("examples", [NOT_EMAILS, NOT_PHONES, NOT_IPV4, NOT_IPV6])
def test_negatives_are_left_alone(examples):
    wrong = [e for e in examples if masked(f"See {e} here.")]
    assert wrong == []


def test_placeholders_and_counts():
    text, counts = mask_pii("Mail jane@example.com or call +1 415 555 0132; server 8.8.8.8 and 10.0.0.1.")
    assert text == "Mail <EMAIL> or call <PHONE>; server <IP_ADDRESS> and 10.0.0.1."
    assert counts == {"email": 1, "phone": 1, "ipv4": 1}
    text, _ = mask_pii("server 10.0.0.1", PiiConfig(public_ips_only=False))
    assert text == "server <IP_ADDRESS>"


def test_code_is_not_masked():
    code = ("def f(x):\n    return x[::2] + x[24::3]\n\nfor i in range(1024):\n    y = 0x7fffffff & i\n"
            "MAX = 2147483647  # +2147483647\nversion = '1.2.3.4'\nt = '12:30:45'\nz = 3.5+12.07938445j\n")
    assert mask_pii(code)[0] == code
