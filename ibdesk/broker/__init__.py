"""The broker layer: the only package that talks to the IB client library."""
