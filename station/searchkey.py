"""The search key: names, e-mail and codes folded so that a volunteer's typing finds them.

Pure Python, no database: the same :func:`fold` makes the key stored with every attendee
(at write time, see ``station.services.search``) and the words typed into the lookup, so
the two always meet, on SQLite as on PostgreSQL.

Folding, in order:

1. casefold, then NFKD (compatibility decomposition): ``é`` → ``e`` + a combining acute,
   ``ﬁ`` → ``fi``, full-width ``Ａ`` → ``A``, half-width katakana → full-width, ``²`` → ``2``;
2. every combining mark goes (Unicode category M): accents, the Greek tonos, the Japanese
   voicing marks (``が`` → ``か``: a search for either finds both);
3. ``str.casefold()``: case in every script with case, ``ß`` → ``ss``, final ``ς`` → ``σ``;
4. letters that carry their mark inside and so do not decompose are spelled as a person
   without the key would type them: ``ø`` → ``o``, ``ł`` → ``l``, ``đ``/``ð`` → ``d``,
   ``ħ`` → ``h``, ``ı`` → ``i``, ``ŧ`` → ``t``, ``æ`` → ``ae``, ``œ`` → ``oe``,
   ``þ`` → ``th``; typographic apostrophes and dashes become ``'`` and ``-``
   (``O’Brien`` is found by ``o'brien``);
5. runs of whitespace become one space.

Deliberately not done: transliteration between scripts (``Αλέξανδρος`` is not found by
``alexandros``; ``山田`` is not found by ``yamada``), and German ``ä`` → ``ae`` (``Müller``
is found by ``muller``, not by ``mueller``; the typo-tolerant ranking usually finds it).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache

# Letters NFKD leaves whole (the stroke or ligature is part of the letter), lower case only:
# casefold runs first.
_SPELLED = str.maketrans(
    {
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "ħ": "h",
        "ı": "i",
        "ŧ": "t",
        "ŀ": "l",
        "ƀ": "b",
        "ɨ": "i",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ĸ": "q",
        "\u2018": "'",
        "\u2019": "'",
        "\u02bc": "'",
        "\u2032": "'",
        "`": "'",
        "´": "'",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "|": " ",  # the search key's own separator (see search_key)
    }
)

#: Longest text folded for a query; longer input is cut (the lookup refuses it earlier).
MAX_QUERY = 100


def fold(text: str) -> str:
    """``text`` as the search key holds it: no case, no accents, single spaces."""
    if text.isascii():  # most names and every e-mail and code: no decomposition to do
        return " ".join(text.casefold().translate(_SPELLED).split())
    return _fold_unicode(text)


@lru_cache(maxsize=1 << 16)  # names repeat: an import folds each distinct one once
def _fold_unicode(text: str) -> str:
    # Case first: some letters carry in a mark what their capitals spell as a letter
    # (Greek ``ᾳ`` has an iota below, ``ᾼ`` upper-cases to ``ΑΙ``); casefold spells it out.
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.category(ch).startswith("M"))
    spelled = bare.casefold().translate(_SPELLED)
    # A spelled letter or casefold may leave composable pairs again (rare): decompose once more.
    if not spelled.isascii():
        again = unicodedata.normalize("NFKD", spelled)
        spelled = "".join(ch for ch in again if not unicodedata.category(ch).startswith("M"))
    return " ".join(spelled.split())


def search_key(names: Iterable[str | None], others: Iterable[str | None]) -> str:
    """The stored key of one attendee: the folded names, ``|``, the folded other parts, one
    space apart, with a space before the first and after the last word.

    ``names`` are first and last name, ``others`` e-mail, username, order reference and badge
    code (``station.models.attendee_search_key``); a word never spans two parts. The spaces
    let ``LIKE '% ab%'`` find a word that starts with ``ab`` (the first word too), and give
    the trigram indexes a third character for a two-letter word such as ``山田``. The ``|``
    (which :func:`fold` turns into a space everywhere else) ends the names: the typo-tolerant
    search compares names only, on PostgreSQL through an index on the part before it.
    """
    return f" {_joined(names)} | {_joined(others)} "


def key_names(key: str) -> str:
    """The names part of a stored key."""
    return key.split("|", 1)[0]


def _joined(parts: Iterable[str | None]) -> str:
    return " ".join(f for f in (fold(p) for p in parts if p) if f)


def key_has_word(key: str, word: str) -> bool:
    """Whether ``word`` (folded) counts as found in ``key``: anywhere for 3 characters or more,
    at the start or end of a word of the key for shorter words (``山田``, ``li``)."""
    if len(word) >= 3:
        return word in key
    return f" {word}" in key or f"{word} " in key


def query_words(query: str) -> list[str]:
    """The folded words of what was typed, in order, without repeats."""
    words: list[str] = []
    for word in fold(query[: MAX_QUERY * 2]).split():
        if word not in words:
            words.append(word)
    return words


def trigrams(word: str) -> set[str]:
    """The trigrams of one word padded as pg_trgm pads it (two spaces before, one after)."""
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def word_similarity(word: str, key_words: Iterable[str]) -> float:
    """How well ``word`` matches the best word of the key: the trigrams the two share / the
    trigrams of either (pg_trgm's ``similarity`` of the word pair); 1.0 for an equal word.

    ``lindquist``/``lindqvist`` 0.54, ``okafur``/``okafor`` 0.4, ``smyth``/``smith`` 0.33.
    """
    mine = trigrams(word)
    best = 0.0
    for other in key_words:
        theirs = trigrams(other)
        shared = len(mine & theirs)
        if shared:
            best = max(best, shared / len(mine | theirs))
    return best
