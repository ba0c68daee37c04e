"""Claims and their events in the store (`cession load`)."""
