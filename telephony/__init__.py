"""Phone-line and channel plumbing: who is on the call, DTMF PIN entry, SIP trunk setup."""

from .channel import CallerInfo, Channel, detect_channel, normalize_phone
from .dtmf import DtmfPinCollector

__all__ = ["CallerInfo", "Channel", "DtmfPinCollector", "detect_channel", "normalize_phone"]
