"""Contacts with debtors over the store: the service the command line and the HTTP API call."""
