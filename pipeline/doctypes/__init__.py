"""Document types: their JSON Schemas (packaged and the workspace's) and what ledgerlens knows
about each. Shared by every stage; imports none."""
