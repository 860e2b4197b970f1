"""Text templates the models are given: data, versioned by file name and header."""
