"""Canbao (参保): universal social-insurance registration for a city bureau."""

from canbao.errors import CanbaoError

__version__ = "0.1.0"

__all__ = ["CanbaoError", "__version__"]
