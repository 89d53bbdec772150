"""The production shape on one machine (`bot cluster`): replicas.py runs it,
haproxy.py renders the balancer's configuration, checks.py checks the services."""

from bot.runtime.cluster.replicas import Cluster, run, running, start

__all__ = ["Cluster", "run", "running", "start"]
