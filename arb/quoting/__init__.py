"""Maker-taker quoting: pure pricing, sizing and refresh rules for resting quotes, and the hedge ledger."""
