"""Dialogs (RFC 3261 §12): the Call-ID, tags and CSeq that tie in-dialog requests to a call leg.

The PBX is a B2BUA: it ends every dialog itself, so there is no route set to honour (it never
sends Record-Route) and the remote target is the peer's Contact. Requests inside a dialog go to
the address the peer's messages came from (the NAT-safe choice), with the Contact URI as the
Request-URI.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass

from .message import BadMessage, NameAddr, SipMessage
from .transaction import new_branch
from .transport import Peer

__all__ = ["Dialog", "Local", "new_call_id", "new_tag"]

USER_AGENT = "cti-pbx"


def new_tag() -> str:
    return secrets.token_hex(6)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(12)}@{host}"


@dataclass(frozen=True, slots=True)
class Local:
    """How the PBX names itself on one transport: the address peers can send to."""

    host: str
    port: int

    def via(self, transport: str) -> str:
        return f"SIP/2.0/{transport.upper()} {self.host}:{self.port};branch={new_branch()};rport"

    def contact(self, transport: str, user: str = "pbx") -> str:
        suffix = ";transport=tcp" if transport == "tcp" else ""
        return f"<sip:{user}@{self.host}:{self.port}{suffix}>"

    def uri(self, user: str) -> str:
        return f"sip:{user}@{self.host}"


@dataclass(slots=True)
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_party: str
    "Our side as a name-addr without tag (our From when we called, our To when we were called)."
    remote_party: str
    remote_target: str
    peer: Peer
    local: Local
    local_cseq: int = 1
    remote_cseq: int = 0

    @classmethod
    def answering(cls, request: SipMessage, peer: Peer, local_tag: str, local: Local) -> Dialog:
        """The dialog an incoming INVITE creates (we are the UAS)."""
        contact = request.header_values("Contact")
        target = NameAddr.parse(contact[0]).uri if contact else request.from_.uri
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=request.from_.tag,
            local_party=_without_tag(request.header("To")),
            remote_party=_without_tag(request.header("From")),
            remote_target=str(target),
            peer=peer,
            local=local,
            local_cseq=secrets.randbelow(10_000) + 1,
            remote_cseq=request.cseq[0],
        )

    @classmethod
    def calling(cls, *, target: str, to: str, from_: str, peer: Peer, local: Local) -> Dialog:
        """A dialog we start (we are the UAC); the remote tag comes with the answer."""
        return cls(
            call_id=new_call_id(local.host),
            local_tag=new_tag(),
            remote_tag="",
            local_party=from_,
            remote_party=to,
            remote_target=target,
            peer=peer,
            local=local,
            local_cseq=secrets.randbelow(10_000) + 1,
        )

    def confirm(self, response: SipMessage) -> None:
        """A 2xx (or 1xx with a tag) to our INVITE fixes the remote tag and target."""
        self.remote_tag = response.to.tag
        contact = response.header_values("Contact")
        if contact:
            with contextlib.suppress(BadMessage):  # a bad Contact: keep the Request-URI we used
                self.remote_target = str(NameAddr.parse(contact[0]).uri)

    def request(self, method: str, *, body: bytes = b"", content_type: str = "") -> SipMessage:
        """A new request in this dialog (its own CSeq, a fresh branch)."""
        if method not in ("ACK", "CANCEL"):
            self.local_cseq += 1
        msg = SipMessage(method=method, uri=self.remote_target)
        msg.add("Via", self.local.via(self.peer.transport))
        msg.add("Max-Forwards", "70")
        msg.add("From", f"{self.local_party};tag={self.local_tag}")
        to_tag = f";tag={self.remote_tag}" if self.remote_tag else ""
        msg.add("To", f"{self.remote_party}{to_tag}")
        msg.add("Call-ID", self.call_id)
        msg.add("CSeq", f"{self.local_cseq} {method}")
        msg.add("Contact", self.local.contact(self.peer.transport))
        msg.add("User-Agent", USER_AGENT)
        if body:
            msg.add("Content-Type", content_type or "application/sdp")
            msg.body = body
        return msg

    def ack(self, cseq: int) -> SipMessage:
        """The ACK of a 2xx to our INVITE number *cseq* (a transaction of its own)."""
        msg = SipMessage(method="ACK", uri=self.remote_target)
        msg.add("Via", self.local.via(self.peer.transport))
        msg.add("Max-Forwards", "70")
        msg.add("From", f"{self.local_party};tag={self.local_tag}")
        msg.add("To", f"{self.remote_party};tag={self.remote_tag}")
        msg.add("Call-ID", self.call_id)
        msg.add("CSeq", f"{cseq} ACK")
        return msg

    def accepts(self, request: SipMessage) -> bool:
        """Is *request* a new in-dialog request (not a repeat, not out of order)?"""
        number = request.cseq[0]
        if number <= self.remote_cseq and request.method not in ("ACK", "CANCEL"):
            return False
        self.remote_cseq = max(self.remote_cseq, number)
        return True


def _without_tag(value: str) -> str:
    addr = NameAddr.parse(value)
    params = {k: v for k, v in addr.params.items() if k != "tag"}
    return str(NameAddr(uri=addr.uri, display=addr.display, params=params))
