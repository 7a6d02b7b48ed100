"""Playwright journeys: one file per persona, each ending in a state change checked through the API."""
