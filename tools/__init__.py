"""sculpt's tools: the diffusers engine that serves every image operation, and the built-in shapes world."""
