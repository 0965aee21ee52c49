"""Pure routing rules: policy model, calendars, wait estimates, priority and placement, PII views."""
