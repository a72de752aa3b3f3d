"""Reference ResNet ensembles for resnet-claims and the contract plug-ins meet."""
__version__ = "0.1.0"

from .protocol import Capability, Ensemble, NetSpec, ResNetImpl, SpecError  # noqa: E402
from .reference import make_reference, make_reference_dense  # noqa: E402

__all__ = ["Capability", "Ensemble", "NetSpec", "ResNetImpl", "SpecError", "make_reference", "make_reference_dense", "__version__"]
