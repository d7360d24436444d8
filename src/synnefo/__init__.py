"""Synnefo, rebuilt: an open-source IaaS cloud stack for Python 3."""

__version__ = "0.1.0"
