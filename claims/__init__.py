"""resnet-claims: theoretical claims about deep ResNets as executable statistical tests."""
import os as _os

# torch's OpenMP threads spin-wait between ops by default; on a busy 2-core machine each small op
# then waits on a descheduled partner (measured 12-16 ms instead of 0.016 ms for a tiny matmul,
# docs/performance.md). Passive waiting costs nothing measurable when the machine is idle. Set
# before torch is imported; a value the user already set wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
