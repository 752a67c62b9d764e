"""Command modules of the cxrmt CLI (each exposes register(subparsers))."""
