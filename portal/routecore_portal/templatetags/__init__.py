"""The portal's template filters (B15)."""
