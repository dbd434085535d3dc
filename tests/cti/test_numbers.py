"""Phone number normalisation: the forms people and PBXs write."""

from __future__ import annotations

import pytest

from cti.numbers import normalise


class TestNormalise:
    @pytest.mark.parametrize(
        ("raw", "e164"),
        [
            ("8 (916) 123-45-67", "+79161234567"),
            ("+7 495 111-22-33", "+74951112233"),
            ("89161234567", "+79161234567"),
            ("+79161234567", "+79161234567"),
            ("101", None),
            ("", None),
            ("not a number", None),
        ],
    )
    def test_e164(self, raw, e164):
        """
        Local, national and international forms give the same E.164; extensions and junk give None.
        """
        assert e164 == normalise(raw, "RU").e164

    def test_extension_part_is_kept_apart(self):
        """
        "доб. 12" is the extension, not part of the number.
        """
        number = normalise("+7 495 111-22-33 доб. 12", "RU")

        assert ("+74951112233", "12") == (number.e164, number.extension)
