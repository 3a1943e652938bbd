"""The lab: a private Asterisk and SIPp parties on loopback, and the PBX config templates.

``render`` fills ``asterisk/*.conf`` from the settings (also for a dealer's PBX),
``lab.Lab`` runs the lab, ``layout`` says where everything lives.
"""
