"""Engine runs from the store (`cession run`, `cession runs`)."""
