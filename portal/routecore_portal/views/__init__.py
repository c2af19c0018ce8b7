"""The portal's pages, one module per concern (B15)."""
