"""The portal's database migrations (B15)."""
