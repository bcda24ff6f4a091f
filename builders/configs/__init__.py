"""One module per config: its artifact kinds, its policies and how its table is built."""
