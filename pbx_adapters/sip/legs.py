"""Call legs: one SIP dialog with one phone or carrier, and the relay port its audio goes through.

An :class:`InboundLeg` is a call that reached us (we answer it, we are its UAS); an
:class:`OutboundLeg` is one we place (we are its UAC). Either can be hung up from either side,
put on hold by a re-INVITE, or carry a REFER; the call that owns the leg decides what that
means through the ``on_*`` callbacks. A leg never talks to another leg: the call does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from .dialog import Dialog, Local
from .digest import answer_challenge
from .endpoint import SipEndpoint
from .media import Codec, MediaLeg
from .message import SipMessage
from .sdp import AUDIO_CODECS, Sdp, SdpError, build_sdp, parse_sdp
from .transaction import ClientTransaction, ServerTransaction
from .transport import Peer

__all__ = ["DTMF_PT", "InboundLeg", "Leg", "OutboundLeg", "codec_of"]

log = structlog.get_logger(__name__)

_CODECS = {0: Codec.PCMU, 8: Codec.PCMA}
DTMF_PT = 101
"The telephone-event payload type in our offers."


def codec_of(pt: int) -> Codec:
    return _CODECS[pt]


class Leg:
    """What both kinds of legs share: the dialog, the media, hang-up and in-dialog requests."""

    def __init__(self, endpoint: SipEndpoint, media: MediaLeg, *, number: str, extension: str | None) -> None:
        self.endpoint = endpoint
        self.media = media
        self.number = number
        self.extension = extension
        self.dialog: Dialog | None = None
        self.up = False
        self.ended = False
        self.codec_pt = 0
        self.remote: Sdp | None = None
        self.on_bye: Callable[[Leg], None] = lambda _leg: None
        self.on_hold: Callable[[Leg, bool], None] = lambda _leg, _on: None
        self.on_refer: Callable[[Leg, ServerTransaction], None] = lambda _leg, tx: tx.reply(603, "Declined")
        self.held = False
        self._media_closed = False

    @property
    def local(self) -> Local:
        return self.endpoint.local

    def _media_host(self) -> str:
        host = self.media.local_host
        return self.local.host if host in ("0.0.0.0", "", "::") else host  # noqa: S104

    def our_sdp(self, codecs: tuple[int, ...], *, direction: str = "sendrecv") -> bytes:
        """Our side of the SDP: an offer (telephone-event as 101) or, once the peer's SDP is known,
        an answer that keeps the peer's telephone-event payload type (and omits it if the peer has none)."""
        dtmf_pt = DTMF_PT if self.remote is None else self.remote.dtmf_pt
        return build_sdp(self._media_host(), self.media.local_port, codecs, dtmf_pt, direction=direction)

    def apply_remote(self, sdp: Sdp, codec_pt: int) -> None:
        self.remote = sdp
        self.codec_pt = codec_pt
        self.media.configure((sdp.host, sdp.port) if sdp.port else None, codec_of(codec_pt), sdp.dtmf_pt)

    def _register(self) -> None:
        assert self.dialog is not None
        self.endpoint.dialogs[(self.dialog.call_id, self.dialog.local_tag)] = self

    def _unregister(self) -> None:
        if self.dialog is not None:
            self.endpoint.dialogs.pop((self.dialog.call_id, self.dialog.local_tag), None)
            self.endpoint.layer.stop_awaiting(self.dialog.call_id)

    # -- in-dialog requests from the peer -----------------------------------------------------

    def on_request(self, tx: ServerTransaction) -> None:
        request = tx.request
        assert self.dialog is not None
        if not self.dialog.accepts(request):
            tx.reply(500, "Server Internal Error (CSeq out of order)")
            return
        method = request.method
        if method == "BYE":
            tx.reply(200, "OK")
            self._close()
            self.on_bye(self)
        elif method == "INVITE":
            self._reinvite(tx)
        elif method == "REFER":
            self.on_refer(self, tx)
        elif method in ("OPTIONS", "INFO", "NOTIFY", "UPDATE"):
            tx.reply(200, "OK")
        else:
            tx.reply(405, "Method Not Allowed")

    def _reinvite(self, tx: ServerTransaction) -> None:
        """Hold and resume: note the direction, answer with ours mirrored, keep the relay port."""
        direction = "sendrecv"
        if tx.request.body:
            try:
                sdp = parse_sdp(tx.request.body)
            except SdpError:
                tx.reply(488, "Not Acceptable Here")
                return
            codecs = [pt for pt in sdp.codecs if pt == self.codec_pt] or list(sdp.codecs)
            if not codecs:
                tx.reply(488, "Not Acceptable Here")
                return
            self.apply_remote(sdp, codecs[0])
            held = sdp.on_hold
            direction = {"sendonly": "recvonly", "inactive": "inactive"}.get(sdp.direction, "sendrecv")
            if held and sdp.direction != "inactive" and sdp.host in ("0.0.0.0", ""):  # noqa: S104
                direction = "inactive"
            if held != self.held:
                self.held = held
                self.on_hold(self, held)
        tx.reply(
            200,
            "OK",
            headers={"Contact": self.local.contact(tx.peer.transport), "Content-Type": "application/sdp"},
            body=self.our_sdp((self.codec_pt,), direction=direction),
        )

    def on_ack(self, ack: SipMessage | None) -> None:
        if ack is None and not self.ended:  # our 2xx was never acknowledged: the phone is gone
            log.info("sip_leg_no_ack", number=self.number)
            self.hangup()
            self.on_bye(self)

    # -- our requests ---------------------------------------------------------------------------

    def answer(self) -> None:
        """Answer the phone's call to us; a leg we placed is answered by the phone, not by us."""

    def reject(self, status: int, reason: str) -> None:
        """Refuse the call before it is answered (a leg we placed is simply hung up)."""
        del status, reason
        self.hangup()

    def hangup(self) -> None:
        """End this leg from our side (BYE when up); idempotent."""
        if self.ended:
            return
        if self.up and self.dialog is not None:
            self.endpoint.send(self.dialog.request("BYE"), self.dialog.peer)
        self._close()

    def send_in_dialog(
        self, method: str, *, body: bytes = b"", content_type: str = "", headers: dict[str, str] | None = None
    ) -> ClientTransaction | None:
        if self.dialog is None or self.ended:
            return None
        request = self.dialog.request(method, body=body, content_type=content_type)
        for name, value in (headers or {}).items():
            request.add(name, value)
        return self.endpoint.send(request, self.dialog.peer)

    def _close(self) -> None:
        if self.ended:
            return
        self.ended = True
        self.up = False
        self._unregister()
        self.close_media()

    def close_media(self) -> None:
        if not self._media_closed:
            self._media_closed = True
            self.media.close()


class InboundLeg(Leg):
    """A call that reached us: answer, ring, or refuse its INVITE."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        media: MediaLeg,
        tx: ServerTransaction,
        offer: Sdp,
        *,
        number: str,
        extension: str | None,
    ) -> None:
        super().__init__(endpoint, media, number=number, extension=extension)
        self.tx = tx
        self.offer = offer
        self.dialog = Dialog.answering(tx.request, tx.peer, tx.to_tag, endpoint.local)
        self._register()
        self.apply_remote(offer, offer.codecs[0])
        self.cancelled = asyncio.get_running_loop().create_future()
        tx.on_cancel = self._cancelled
        if tx.cancelled:  # the CANCEL came while the relay port was being opened
            self._cancelled()

    def _cancelled(self) -> None:
        if not self.cancelled.done():
            self.cancelled.set_result(None)
        self.reject(487, "Request Terminated")

    def ringing(self) -> None:
        if not self.up and not self.ended:
            self.tx.reply(180, "Ringing", headers={"Contact": self.local.contact(self.tx.peer.transport)})

    def answer(self) -> None:
        if self.up or self.ended:
            return
        self.up = True
        self.tx.reply(
            200,
            "OK",
            headers={
                "Contact": self.local.contact(self.tx.peer.transport),
                "Content-Type": "application/sdp",
            },
            body=self.our_sdp((self.codec_pt,)),
        )

    def reject(self, status: int, reason: str) -> None:
        if self.up or self.ended:
            return
        self.tx.reply(status, reason)
        self._close()


class OutboundLeg(Leg):
    """A call we place: INVITE, wait for the answer, CANCEL if someone else answered first."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        media: MediaLeg,
        *,
        number: str,
        extension: str | None,
        target: str,
        to: str,
        from_: str,
        peer: Peer,
    ) -> None:
        super().__init__(endpoint, media, number=number, extension=extension)
        self.dialog = Dialog.calling(target=target, to=to, from_=from_, peer=peer, local=endpoint.local)
        self._register()
        self.invite_tx: ClientTransaction | None = None
        self.rang = False
        self.on_ringing: Callable[[OutboundLeg], None] = lambda _leg: None
        self.extra_headers: dict[str, str] = {}
        self.credentials: tuple[str, str] | None = None
        self._cancel_pending = False
        "(username, secret) to answer a carrier's 401/407 with (trunk legs only)."

    async def invite(self, codecs: tuple[int, ...]) -> SipMessage:
        """Send the INVITE; return the final response (2xx: the leg is up, media configured)."""
        assert self.dialog is not None
        request = self.dialog.request("INVITE", body=self.our_sdp(codecs))
        for name, value in self.extra_headers.items():
            request.add(name, value)
        self.invite_tx = self.endpoint.send(request, self.dialog.peer, self._provisional)
        response = await self.invite_tx.final
        if response.status in (401, 407) and self.credentials is not None and not self.ended:
            request = self._with_credentials(request, response)
            self.invite_tx = self.endpoint.send(request, self.dialog.peer, self._provisional)
            response = await self.invite_tx.final
        if 200 <= response.status < 300:
            self._answered(response, request.cseq[0])
        elif not self.ended:
            self._close()
        return response

    def _with_credentials(self, request: SipMessage, challenge: SipMessage) -> SipMessage:
        """The same INVITE again (new CSeq and branch) with the answer to the carrier's challenge."""
        assert self.dialog is not None
        assert self.credentials is not None
        proxy = challenge.status == 407
        header = challenge.header("Proxy-Authenticate" if proxy else "WWW-Authenticate")
        again = self.dialog.request("INVITE", body=request.body)
        for name, value in self.extra_headers.items():
            again.add(name, value)
        username, secret = self.credentials
        answer = answer_challenge(header, method="INVITE", uri=request.uri, username=username, secret=secret)
        again.add("Proxy-Authorization" if proxy else "Authorization", answer)
        return again

    def _provisional(self, response: SipMessage) -> None:
        if self._cancel_pending:
            self._cancel_pending = False
            self._send_cancel()
            return
        if self.ended:
            return
        if response.status in (180, 183) and not self.rang:
            self.rang = True
            self.on_ringing(self)

    def _answered(self, response: SipMessage, cseq: int) -> None:
        assert self.dialog is not None
        self.dialog.confirm(response)
        self._register()
        self.endpoint.layer.send_ack(self.dialog.ack(cseq), self.dialog.peer)
        if self.ended:  # cancelled, but the 2xx crossed the CANCEL: end it properly
            self.ended = False
            self.up = True
            self.hangup()
            return
        try:
            sdp = parse_sdp(response.body)
        except SdpError:
            log.warning("sip_answer_without_sdp", number=self.number)
            self.up = True
            self.hangup()
            return
        codecs = [pt for pt in sdp.codecs if pt in AUDIO_CODECS]
        self.apply_remote(sdp, codecs[0] if codecs else 0)
        self.up = True

    def cancel(self) -> None:
        """Stop ringing; the INVITE's final answer (487, or a crossing 2xx we hang up) ends the leg.

        §9.1: a CANCEL may only follow a provisional response; before one, it waits for it (a phone
        that never answers at all is given up by Timer B).
        """
        if self.up:
            self.hangup()
            return
        if self.ended or self.invite_tx is None:
            self._close()
            return
        self.ended = True
        self._unregister_later()
        if self.invite_tx.provisional:
            self._send_cancel()
        else:
            self._cancel_pending = True

    def _send_cancel(self) -> None:
        assert self.invite_tx is not None
        invite = self.invite_tx.request
        cancel = SipMessage(method="CANCEL", uri=invite.uri)
        cancel.add("Via", invite.header_values("Via")[0])
        for name in ("Max-Forwards", "From", "To", "Call-ID"):
            cancel.add(name, invite.header(name))
        cancel.add("CSeq", f"{invite.cseq[0]} CANCEL")
        self.endpoint.send(cancel, self.invite_tx.peer)

    def _unregister_later(self) -> None:
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().call_later(32.0, self._drop_if_cancelled)
        self.close_media()

    def _drop_if_cancelled(self) -> None:
        if not self.up:
            self._unregister()
