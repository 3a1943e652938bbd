"""What can go wrong talking to Asterisk over AMI: one flat family.

Callers catch :class:`AmiError` to treat "the PBX did not do it" uniformly, or a
subclass when the reaction differs (re-check the password vs. retry later).
Messages name host, port, user and action; they never contain the secret.
"""

from __future__ import annotations


class AmiError(Exception):
    """Base of every AMI failure."""


class AmiConnectError(AmiError):
    """Asterisk could not be reached, or the link never became usable (no FullyBooted)."""


class AmiConnectTimeout(AmiConnectError):
    """Asterisk did not answer in time while connecting (TCP, banner, login, FullyBooted or the first
    snapshot): on a host still busy booting it may answer a moment later, so this one is worth retrying."""


class AmiAuthError(AmiError):
    """Asterisk answered but refused our login: wrong user or secret, or ACL."""


class AmiTimeout(AmiError):
    """An action got no reply within its timeout; its outcome in Asterisk is unknown."""


class AmiActionError(AmiError):
    """Asterisk answered ``Response: Error``; ``message`` is its reason."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"Asterisk refused {action}: {message or 'no reason given'}")
        self.action = action
        self.message = message


class AmiLinkDown(AmiError):
    """The AMI link is down (or went down before the reply): the action was not, or may not have been, done.

    ``sent`` tells the two apart: False means the action never left this process,
    so it certainly did not happen; True means Asterisk may have carried it out
    (an Originate may be ringing a customer) and must not be repeated blindly.
    """

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent
