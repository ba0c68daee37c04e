"""Sellers' files into the store (`cession ingest`)."""
