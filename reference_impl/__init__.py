"""Reference ResNet ensembles for resnet-claims and the contract plug-ins meet."""
from .protocol import Capability, Ensemble, NetSpec, ResNetImpl, SpecError
from .reference import make_reference, make_reference_dense
from .version import __version__

__all__ = ["Capability", "Ensemble", "NetSpec", "ResNetImpl", "SpecError", "make_reference", "make_reference_dense", "__version__"]
