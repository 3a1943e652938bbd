"""The PBX as the dialer needs it: which Asterisk (``versions``, ``requirements``), the dealer's network
and trunk (``site``) and the phones' SIP accounts (``phones``)."""
