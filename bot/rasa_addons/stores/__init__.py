"""Stores Rasa is configured with (endpoints.yml): the masking tracker store,
the Redis lock store."""
