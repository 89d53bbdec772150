"""Licence keys: normalised, validated and masked."""

from __future__ import annotations

import pytest

from bot import records

# ---------------------------------------------------------------- mask_key


@pytest.mark.parametrize(
    "key, masked",
    [
        ("AB12C-3DE45-F6G7H-8JK9L", "•••••-•••••-•••••-8JK9L"),
        ("ab12c-3de45-f6g7h-8jk9l", "•••••-•••••-•••••-8JK9L"),
        ("AB12C3DE45F6G7H8JK9L", "•••••-•••••-•••••-8JK9L"),  # read as the form reads it
        ("ab12c – 3de45\u00a0f6g7h__8jk9l", "•••••-•••••-•••••-8JK9L"),
        ("AB12C3DE45F6G7H8JK9", "••••••••••••••H8JK9"),  # not a key: at most five shown
        ("AB12C-3DE45", "•••••-3DE45"),
        ("", ""),
    ],
)
def test_mask_key_shows_only_the_last_group(key, masked):
    assert records.mask_key(key) == masked
    if len(key) > 5:
        assert key[:5].upper() not in records.mask_key(key)
