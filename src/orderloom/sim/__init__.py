"""Simulation: demo data now, the network digital twin later."""
