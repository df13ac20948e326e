"""Zoho CRM and Books: API clients, converters to domain records, webhook payload parsing."""
