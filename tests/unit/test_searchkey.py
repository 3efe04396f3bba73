"""Folding for the lookup: what is typed and what is stored meet, whatever the script."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.searchkey import fold, key_has_word, key_names, query_words, search_key


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Øyvind", "oyvind"),
        ("ZOË", "zoe"),
        ("Núñez", "nunez"),
        ("Αλέξανδρος", "αλεξανδροσ"),
        ("ΑΛΈΞΑΝΔΡΟΣ", "αλεξανδροσ"),
        ("Straße", "strasse"),
        ("STRAẞE", "strasse"),
        ("Wałęsa", "walesa"),
        ("Đorđe", "dorde"),
        ("Sæther", "saether"),
        ("Œuvre", "oeuvre"),
        ("Þór", "thor"),
        ("Yılmaz", "yilmaz"),
        ("İstanbul", "istanbul"),
        ("O’Brien", "o'brien"),
        ("El‐Sayed", "el-sayed"),
        ("ｙａｍａｄａ", "yamada"),
        ("山田", "山田"),
        ("  Ada \t Lovelace ", "ada lovelace"),
        ("a|b", "a b"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_the_key_keeps_names_before_the_bar_and_spaces_around_every_word() -> None:
    key = search_key(("Zoë", "Lefèvre"), ("Zoe@Example.org", None, "ORD-1", "AB12"))
    assert key == " zoe lefevre | zoe@example.org ord-1 ab12 "
    assert key_names(key) == " zoe lefevre "
    assert key_has_word(key, "lef") and key_has_word(key, "zo") and key_has_word(key, "re")
    assert not key_has_word(key, "fe")  # two letters count at the start or end of a word


def test_query_words_are_folded_once_each() -> None:
    assert query_words("ZOË  zoe LEF") == ["zoe", "lef"]


@given(st.text(max_size=30))
def test_folding_is_stable(text: str) -> None:
    assert fold(fold(text)) == fold(text)
