"""Campaign services: the runner that dials, the hopper, presence, the service faces call, the
registry of runners in this process. Their pure core is ``dialer.domain.campaigns``."""
