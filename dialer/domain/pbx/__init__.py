"""The PBX as a dealer's site needs it: the network and trunk (``site``) and the phones' SIP accounts (``phones``)."""
