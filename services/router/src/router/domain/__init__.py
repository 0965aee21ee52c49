"""Pure routing rules: policy model, calendars, Erlang C, priority and placement, PII views."""
