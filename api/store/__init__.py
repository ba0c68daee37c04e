"""The store itself: where it is, its schema, what it holds (`cession db`; every command opens it here)."""
