"""Local stand-ins for the vendors' APIs, built from their documented behavior."""
