"""Tasks of this domain: thin wrappers, ids in, one service call, one commit."""
