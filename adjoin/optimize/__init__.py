"""adjoin.optimize: roots, fixed points, argmins, differentiated implicitly."""
