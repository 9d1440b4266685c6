"""The one outbound HTTP client: `netsafety` (SSRF guard, pinned transport) and `client`
(timeouts, retries, rate limit, typed errors)."""
