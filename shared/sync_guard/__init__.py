"""Zoho Sync Guard: catches the duplicates the Zoho CRM <-> Books sync creates, before it multiplies them."""

__version__ = "0.1.0"
