"""Shared kernel: the event envelope, ids, hashing, clock, errors and settings."""
