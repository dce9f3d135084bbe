"""Paper venue: same protocol as a live venue, fills against the current normalized book."""

from arb.venues.paper.venue import BookView, PaperConfig, PaperVenue

__all__ = ["BookView", "PaperConfig", "PaperVenue"]
