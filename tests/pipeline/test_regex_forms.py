"""The faster forms of the hint patterns match exactly where the patterns as written match."""
from __future__ import annotations

import random
import re

from pipeline.stages.html_blocks import BAD_HINT, GOOD_HINT, STRONG_BAD_HINT
from pipeline.stages.regex_forms import by_first_letter, fast_form


def test_branches_are_grouped_by_their_first_letter_and_odd_patterns_left_alone():
    assert by_first_letter("nav|news|menu") == "n(?:av|ews)|m(?:enu)"
    assert by_first_letter(r"author-?(box|bio)|ad(?<!\wad)s?|a") == r"a(?:uthor-?(box|bio)|d(?<!\wad)s?|)"
    assert by_first_letter("[ab]c|d") == "[ab]c|d"      # a character class: left as it is
    assert by_first_letter(r"\d+ comments|x") == r"\d+ comments|x"  # a branch not starting with a letter
    assert fast_form(r"\bads?\b|nav") == r"a(?<!\wa)ds?\b|nav"


def test_the_hint_patterns_fast_forms_find_what_they_find():
    # values built from the patterns' own words, cut and joined at random with class-like
    # separators and other letters, so that near misses and word edges are common
    words = re.findall(r"[a-z]{2,}", BAD_HINT.pattern + STRONG_BAD_HINT.pattern + GOOD_HINT.pattern)
    rng = random.Random(0)
    values = []
    for _ in range(20000):
        parts = [rng.choice(words)[rng.randrange(2):] if rng.random() < 0.7 else rng.choice(["x", "2", "Q", "é"])
                 for _ in range(rng.randrange(1, 4))]
        values.append("".join(p + rng.choice(["", "-", "_", " ", "__", "1"]) for p in parts))
    for pattern in (BAD_HINT, STRONG_BAD_HINT, GOOD_HINT):
        fast = re.compile(by_first_letter(fast_form(pattern.pattern)), re.I)
        found = [bool(pattern.search(v)) for v in values]
        assert [bool(fast.search(v)) for v in values] == found
        assert 0.03 < sum(found) / len(found) < 0.97  # both outcomes are well represented
