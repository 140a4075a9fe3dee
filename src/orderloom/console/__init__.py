"""The web console's built assets (React + Vite, sources in /console at the repository root)."""

from pathlib import Path

DIST = Path(__file__).parent / "dist"
