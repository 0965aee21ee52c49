"""All SQL of sla-monitor, one module per side: `consumer` (the handler and the re-plan),
`scheduler` (due timers and the outbox), `reads` (the admin API and the gauges). Each
has a `Protocol` port and its PostgreSQL implementation; tests/fakes.py has fakes.

Tables (schema `sla`, see migrations/): `contacts`, `lifecycle`, `due_alerts`, `alerts`,
`watermarks`, `processed_events`.
"""
