"""adjoin.linalg: the algebra level's linear solves (dense, sparse, matrix-free)."""
