"""The shared kernel: what every domain needs, one floor below them (docs/architecture.md)."""
