"""dualstack: Kubernetes dual-stack IPv4/IPv6 address allocation, as Kubernetes does it.

The public API is the names in ``__all__`` (see ``shared/CONTRACT.md`` and
``docs/api.md``); everything else is private. This module only re-exports.
"""

from __future__ import annotations

from dualstack.errors import (
    AllocationError,
    AlreadyAllocatedError,
    ConfigError,
    DualStackError,
    FieldError,
    FieldErrorType,
    InvalidAddressError,
    InvalidServiceError,
    MismatchedNetworkError,
    NotFoundError,
    NotInRangeError,
    RangeFullError,
)
from dualstack.families import IPFamily
from dualstack.pools import CIDRPool
from dualstack.profiles import Profile

__all__ = [
    "AllocationError",
    "AlreadyAllocatedError",
    "CIDRPool",
    "ConfigError",
    "DualStackError",
    "FieldError",
    "FieldErrorType",
    "IPFamily",
    "InvalidAddressError",
    "InvalidServiceError",
    "MismatchedNetworkError",
    "NotFoundError",
    "NotInRangeError",
    "Profile",
    "RangeFullError",
]

__version__ = "0.1.0.dev0"
