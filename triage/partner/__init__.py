"""The public-schema side of triage: the partner-wide exception index and the alert rules.

A shared app (in SHARED_APPS) inside the triage package: triage itself is a tenant app, and these
two tables live in `public` so the partner inbox never queries tenant schemas (DESIGN.md §5)."""
