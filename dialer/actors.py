"""Who did it, when nobody did: the actor name of the dialer's own actions.

History rows, audit trails and DOSS changes name an actor. What the dialer does by itself
(filing "no contact" after an unanswered call, deleting an expired recording) carries this
one name, so reports can tell it from the people (KPIs count agents' calls, not the dialer's).
"""

SYSTEM_ACTOR = "dialer"

# What a person did through the console is recorded as this prefix and their login (``web:zhang``):
# history shows the change came through the console, and reports find the person's identity by the login.
CONSOLE_ACTOR_PREFIX = "web:"
