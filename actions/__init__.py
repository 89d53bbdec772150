"""Custom actions: thin. Read the tracker, call the core (bot/), send the reply.

No SQL here: the rule base, records and requests are reached through bot/.
"""
