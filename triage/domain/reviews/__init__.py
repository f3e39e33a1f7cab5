"""Human review of gated items: the queue, decisions with optimistic concurrency, SLA escalation."""
