"""The dealer's current promotions and events, shown to agents next to the call card."""
