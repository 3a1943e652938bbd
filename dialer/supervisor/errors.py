"""Errors of the supervisor service: one base, each message says who, whom and why."""

from __future__ import annotations


class SupervisorError(Exception):
    """Base of everything the supervisor service refuses or cannot do."""


class ListenInRefused(SupervisorError):
    """The access policy does not let this user listen in (the reason code is in the message)."""


class NoPhone(SupervisorError):
    """The user has no phone endpoint to listen on."""


class AgentNotOnCall(SupervisorError):
    """The agent has no live call to listen to."""


class ListenInOver(SupervisorError):
    """The listen-in already ended (hung up, stopped); switch or stop it no more."""


class PbxRefused(SupervisorError):
    """The PBX did not take the request (AMI error, link down)."""
