"""The graph's nodes, one concern per module; agent/graph.py wires them."""
