"""adjoin.testing: derivative checkers (being written)."""
