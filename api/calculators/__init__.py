"""One claim's interest and limitation (`cession interest`, `cession limitation`)."""
