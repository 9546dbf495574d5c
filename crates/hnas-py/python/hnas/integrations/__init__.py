"""Adapters that let other tools drive hnas studies (``hnas.integrations.ray``)."""
