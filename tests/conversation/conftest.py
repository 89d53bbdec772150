"""Conversation tests use the shared servers of tests/servers.py (see tests/conftest.py)."""
