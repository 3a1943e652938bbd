"""Queue membership through the Asterisk CLI: the commands sent, and a refusal as an error."""

from __future__ import annotations

import pytest

from dialer.domain.inbound.errors import QueueChangeRefused
from dialer.inbound.queue import InboundQueue


class Cli:
    def __init__(self, output: str) -> None:
        self.output = output
        self.sent: list[str] = []

    async def command(self, text: str) -> str:
        self.sent.append(text)
        return self.output


@pytest.mark.parametrize(
    ("call", "output", "command"),
    [
        (
            lambda q: q.add("agent1"),
            "Added interface 'PJSIP/agent1' to queue 'dcc'",
            "queue add member PJSIP/agent1 to dcc penalty 0 as agent1",
        ),
        (
            lambda q: q.remove("agent1"),
            "Removed interface PJSIP/agent1 from queue 'dcc'",
            "queue remove member PJSIP/agent1 from dcc",
        ),
        (
            lambda q: q.pause("agent1", True),
            "paused interface 'PJSIP/agent1' in queue 'dcc'",
            "queue pause member PJSIP/agent1 queue dcc",
        ),
        (
            lambda q: q.pause("agent1", False),
            "unpaused interface 'PJSIP/agent1' in queue 'dcc'",
            "queue unpause member PJSIP/agent1 queue dcc",
        ),
        (
            lambda q: q.pause("agent1", True, '午餐 "长"'),
            "paused interface 'PJSIP/agent1' in queue 'dcc' for reason '午餐 \"长\"'",
            'queue pause member PJSIP/agent1 queue dcc reason "午餐 \\"长\\""',
        ),
        # Already in the state asked for: the login or restore that asked got what it wanted.
        (
            lambda q: q.add("agent1"),
            "Unable to add interface 'PJSIP/agent1' to queue 'dcc': Already there",
            "queue add member PJSIP/agent1 to dcc penalty 0 as agent1",
        ),
        (
            lambda q: q.remove("agent1"),
            "Unable to remove interface 'PJSIP/agent1' from queue 'dcc': Not there",
            "queue remove member PJSIP/agent1 from dcc",
        ),
    ],
)
async def test_each_change_is_one_cli_command(call, output: str, command: str) -> None:  # type: ignore[no-untyped-def]
    cli = Cli(output)
    await call(InboundQueue(cli))
    assert cli.sent == [command]


async def test_a_refusal_names_the_command_and_the_pbx_answer() -> None:
    cli = Cli("Unable to add interface to queue 'dcc': No such queue")
    with pytest.raises(QueueChangeRefused, match=r"queue add member PJSIP/agent1.*No such queue"):
        await InboundQueue(cli).add("agent1")
    with pytest.raises(QueueChangeRefused, match="Member is not dynamic"):
        await InboundQueue(
            Cli("Unable to remove interface 'PJSIP/agent1' from queue 'dcc': Member is not dynamic")
        ).remove("agent1")
