"""Delivering the outbox: the hang-up and missed-call SMS the engine queued leave through a
provider (B2, B3).

``routecore sms send`` runs :class:`~routecore.sms.sender.Sender` over a call store with a
provider: SMPP 3.4 (:mod:`routecore.sms.smpp`, a carrier's SMS gateway) or Alibaba Cloud SMS
(:mod:`routecore.sms.aliyun`, through its SDK).
"""

from routecore.sms.providers import InDoubt, Permanent, Provider, Receipt, SmsError, Temporary

__all__ = ["InDoubt", "Permanent", "Provider", "Receipt", "SmsError", "Temporary"]
