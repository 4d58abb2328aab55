"""Deal strategies: one module per deal type, versioned terms and a registry that parses them."""
