"""Digest authentication, both sides: our server checks what our (trunk) client answers."""

from __future__ import annotations

from pbx_adapters.sip.digest import NONCE_LIFETIME, DigestServer, answer_challenge, ha1, parse_auth


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _answer(server: DigestServer, secret: str) -> dict[str, str]:
    header = answer_challenge(
        server.challenge().header, method="REGISTER", uri="sip:pbx", username="101", secret=secret
    )
    return parse_auth(header)


class TestDigestServer:
    def test_the_right_secret_is_accepted_even_within_the_nonces_millisecond(self):
        """A challenge answered at once (the clock has not reached the next ms) is valid, not stale."""
        clock = _Clock(1_800_000_000.1239)
        server = DigestServer("cti", clock=clock)
        assert "ok" == server.check(
            "REGISTER", _answer(server, "secret-101"), ha1("101", "cti", "secret-101")
        )

    def test_a_wrong_secret_is_wrong(self):
        """Another password gives another response."""
        server = DigestServer("cti")
        assert "wrong" == server.check("REGISTER", _answer(server, "guess"), ha1("101", "cti", "secret-101"))

    def test_an_old_nonce_is_stale_not_wrong(self):
        """Past the nonce lifetime the phone is challenged again (stale=true), no failure counted."""
        clock = _Clock(1_800_000_000.0)
        server = DigestServer("cti", clock=clock)
        fields = _answer(server, "secret-101")
        clock.now += NONCE_LIFETIME + 1
        assert "stale" == server.check("REGISTER", fields, ha1("101", "cti", "secret-101"))

    def test_a_nonce_we_did_not_issue_is_stale(self):
        """After a restart (new key) old nonces are simply challenged again."""
        fields = _answer(DigestServer("cti"), "secret-101")
        assert "stale" == DigestServer("cti").check("REGISTER", fields, ha1("101", "cti", "secret-101"))

    def test_the_challenge_asks_for_md5_with_qop_auth(self):
        """What desk phones expect: realm, nonce, MD5, qop=auth."""
        fields = parse_auth(DigestServer("office").challenge().header)
        assert ("office", "MD5", "auth") == (fields["realm"], fields["algorithm"], fields["qop"])
