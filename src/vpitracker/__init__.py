"""vpitracker: oversight of UNTOC commitments."""

__version__ = "0.1.0"
