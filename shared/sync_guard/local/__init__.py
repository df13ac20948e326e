"""The guard on one machine: local servers, the Zoho simulator and the demo (no AWS account needed)."""

import importlib

# What the local stack runs beyond the `cli` extra: the module it imports, and the package that brings
# it (both in the `dev` extra `make` installs).
LOCAL_STACK_PACKAGES = {"cfnlint.decode": "cfn-lint", "moto.server": "moto[server]"}


def missing_local_stack_packages() -> list[str]:
    """The packages the local stack (``serve``, ``demo``) needs that this environment lacks."""
    missing = []
    for module, package in LOCAL_STACK_PACKAGES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    return missing
