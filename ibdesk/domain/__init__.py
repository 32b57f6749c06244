"""Frozen domain types shared by every layer: no Qt, no IB client library."""
