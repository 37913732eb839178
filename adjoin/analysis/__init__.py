"""adjoin.analysis: operation counts, tape memory, pictures of the compute graph."""
