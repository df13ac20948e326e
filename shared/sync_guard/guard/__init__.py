"""The decision engine: context building, policy, loop detection, and the per-event transaction."""
