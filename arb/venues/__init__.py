"""Venue adapters: one package per venue, all behind the protocol in ``arb.domain.venue``."""
