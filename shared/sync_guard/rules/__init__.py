"""The rules catalogue: one module per failure pattern of the seed, each with a stable code."""
