"""Zoho export files (CSV) in, match reports out: the backfill side of the guard, no AWS involved."""
