"""Events the workflow layer hears: the outbox, the pull feed, signed webhooks and their deliveries."""
