"""mmrag: multimodal search over text, images and speech, and a SOAP-to-REST bridge."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mmrag")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
