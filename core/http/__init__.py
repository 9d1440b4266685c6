"""The one outbound HTTP client: `netsafety` (SSRF guard, pinned transport), `client`
(timeouts, retries, rate limit, typed errors) and `closing` (closed at the end of a `with` block)."""
