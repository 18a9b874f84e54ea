"""On-chip learning demonstrations and the float version of the rule (docs/learning.md)."""
