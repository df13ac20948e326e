"""Admin operations (quarantines, manual links, storm breaker, audit), for the CLI and the admin API.

The service is ``sync_guard.admin.service.AdminService``; the holds' model is ``sync_guard.admin.model``.
Nothing is imported here, so that a function reading holds (the scheduled checks' reminder) does not load
the service and the rules catalogue it validates against.
"""
