"""PIN hashes: a typed PIN hashed with a stored hash's parameters is that hash."""

from __future__ import annotations

import pytest

from station.pins import hash_pin, hash_pin_with, pin_parameters, verify_pin

# Made by `station staff add --pin` before PINs were checked in the database.
EARLIER = "scrypt$SQZwxYQoGz/YYUabP//PCg==$FAYO6gDrZNSe0i42MAByYodx34b6QOll8+f6treMAMA="


def test_a_hash_made_earlier_stays_valid() -> None:
    assert verify_pin("2468", EARLIER)
    assert not verify_pin("2469", EARLIER)


def test_the_parameters_are_the_scheme_and_salt_only() -> None:
    assert pin_parameters(EARLIER) == "scrypt$SQZwxYQoGz/YYUabP//PCg=="
    assert hash_pin_with("2468", pin_parameters(EARLIER)) == EARLIER
    assert hash_pin_with("1357", pin_parameters(EARLIER)) != EARLIER


def test_a_new_hash_round_trips() -> None:
    stored = hash_pin("0000")
    assert hash_pin_with("0000", pin_parameters(stored)) == stored


@pytest.mark.parametrize(
    "parameters", ["", "scrypt", "bcrypt$abc", "scrypt$not base64!", "scrypt$a$b", "$"]
)
def test_parameters_of_another_form_hash_nothing(parameters: str) -> None:
    assert hash_pin_with("2468", parameters) is None


@pytest.mark.parametrize("stored", ["", "garbage", "scrypt$x", "bcrypt$a$b"])
def test_a_stored_hash_of_another_form_matches_no_pin(stored: str) -> None:
    assert not verify_pin("2468", stored)
