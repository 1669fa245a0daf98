"""Checkpoint formats: one module per library, each a frozen configuration class whose methods do the work."""
