"""adjoin.control: structured control flow (fori_loop, while_loop, scan, cond, switch)."""
