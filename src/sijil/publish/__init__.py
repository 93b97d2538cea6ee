"""The public record: safety gate, signed posts, publication log, static site, feeds, data.

Only reviewed work leaves the desk, through a gate that fails closed (docs/publish.md).
"""
