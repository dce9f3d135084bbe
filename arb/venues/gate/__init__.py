"""The Gate API v4 adapter."""
