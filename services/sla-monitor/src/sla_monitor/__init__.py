"""sla-monitor: SLA clocks in business time, alerts exactly once, live service level."""
