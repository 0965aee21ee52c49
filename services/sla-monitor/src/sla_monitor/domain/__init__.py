"""The SLA rules: policy, calendars and business time, clocks. No I/O imports here."""
