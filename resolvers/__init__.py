"""What each field and mutation does, one module per domain."""
