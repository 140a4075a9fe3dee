"""Helpers run as separate processes by the crash test."""
