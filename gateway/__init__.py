"""Governance-aware data-access gateway for LLMs."""
