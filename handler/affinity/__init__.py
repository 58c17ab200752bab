"""Per-project resources (files, caches, batches, interactions) kept on the key whose
project owns them, with no database (docs/affinity.md)."""
