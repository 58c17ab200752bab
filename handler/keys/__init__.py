"""Keys: where a credential comes from, the server-side pool, the cooldown memory,
failover over a request's keys, and masking."""
