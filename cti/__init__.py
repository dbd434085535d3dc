"""The call vocabulary and the live-call core: events, the call record, the registry and the bus.

Nothing here knows Asterisk, SIP, SQL or HTTP. PBX adapters publish :mod:`cti.events`; the
:class:`~cti.registry.CallRegistry` folds them into :class:`~cti.model.Call` records; the
:class:`~cti.bus.EventBus` fans each event, with the call as it stands after it, out to subscribers.
"""
