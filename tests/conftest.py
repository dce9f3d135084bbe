"""Shared test fixtures. Store fixtures live in tests/store/conftest.py."""
