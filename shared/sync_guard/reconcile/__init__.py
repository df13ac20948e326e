"""Scheduled checks against Zoho: renew the Notification API channel, replay missed webhooks and deletes."""
