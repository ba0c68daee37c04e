"""Contact with debtors: the notice of assignment, reminders and the pre-court demand, planned
under the contact rules (data), rendered to PDF, sent through one channel interface, and kept as
the contact history (docs/contacts.md)."""
