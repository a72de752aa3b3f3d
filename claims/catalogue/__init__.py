"""The claim catalogue: one module per paper; importing it registers every claim."""
from . import marion2022, nfd2025  # noqa: F401
