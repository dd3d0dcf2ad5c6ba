"""dualstack: Kubernetes dual-stack IPv4/IPv6 address allocation, as Kubernetes does it.

The public API is the names in ``__all__`` (see ``shared/CONTRACT.md`` and
``docs/api.md``); everything else is private. This module only re-exports.
"""

from __future__ import annotations

from dualstack.cluster import Cluster
from dualstack.config import Capacity, ClusterConfig, FamilyCapacity, Finding, check_components
from dualstack.egress import EgressPolicy
from dualstack.errors import (
    AllocationError,
    AlreadyAllocatedError,
    AlreadyExistsError,
    ConfigError,
    DualStackError,
    FieldError,
    FieldErrorType,
    InvalidAddressError,
    InvalidObjectError,
    InvalidServiceError,
    MismatchedNetworkError,
    NotFoundError,
    NotInRangeError,
    RangeFullError,
)
from dualstack.families import IPFamily
from dualstack.node_cidrs import NodeCIDRAllocator
from dualstack.nodes import Node, Pod
from dualstack.pod_ips import PodIPAllocator
from dualstack.pools import CIDRPool
from dualstack.profiles import Profile
from dualstack.service_ips import RangeAllocation, ServiceIPAllocator
from dualstack.store import (
    EtcdStore,
    MemoryStore,
    RetryPolicy,
    SharedState,
    Store,
    StoreConflictError,
    StoreError,
    StoreUnavailableError,
)

__all__ = [
    "AllocationError",
    "AlreadyAllocatedError",
    "AlreadyExistsError",
    "CIDRPool",
    "Capacity",
    "Cluster",
    "ClusterConfig",
    "ConfigError",
    "DualStackError",
    "EgressPolicy",
    "EtcdStore",
    "FamilyCapacity",
    "FieldError",
    "FieldErrorType",
    "Finding",
    "IPFamily",
    "InvalidAddressError",
    "InvalidObjectError",
    "InvalidServiceError",
    "MemoryStore",
    "MismatchedNetworkError",
    "Node",
    "NodeCIDRAllocator",
    "NotFoundError",
    "NotInRangeError",
    "Pod",
    "PodIPAllocator",
    "Profile",
    "RangeAllocation",
    "RangeFullError",
    "RetryPolicy",
    "ServiceIPAllocator",
    "SharedState",
    "Store",
    "StoreConflictError",
    "StoreError",
    "StoreUnavailableError",
    "check_components",
]

__version__ = "0.1.0"
