"""The claim catalogue: one module per paper; importing it registers every claim."""
from . import fischer2023, marion2022, nfd2025, nfd2025_v1  # noqa: F401
