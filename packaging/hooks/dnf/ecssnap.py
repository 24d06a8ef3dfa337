# ecssnap dnf plugin (dnf 4: Alibaba Cloud Linux 3, EL8 and later).
#
# Before dnf changes anything, asks ecssnap for a cloud snapshot of this
# instance. pre_transaction runs after the test transaction and before the
# real one; raising dnf.exceptions.Error there stops dnf with the message.
#
# The plugin runs `/usr/bin/ecssnap hook dnf` and writes one JSON document
# on its stdin:
#   {"version": 1, "pid": <dnf's pid>, "argv": [<dnf's command line>],
#    "packages": [{"action": "install|upgrade|downgrade|reinstall|remove",
#                  "name": ..., "arch": ..., "from": ..., "to": ...}],
#    "installroot": <dnf's --installroot, only when it is not />}
# ecssnap prints what it did on stderr, applies the hook policy
# (fail-closed or fail-open) and exits 0 to let dnf go on. To skip the
# snapshot once: ECSSNAP_SKIP=1 dnf upgrade
#
# Installed as <site-packages>/dnf-plugins/ecssnap.py, enabled by
# /etc/dnf/plugins/ecssnap.conf. Python 2.7 and 3.6+.

from __future__ import absolute_import, print_function, unicode_literals

import json
import logging
import os
import subprocess
import sys

try:
    import dnf
    import dnf.exceptions
    import dnf.transaction
    _PluginBase = dnf.Plugin
except ImportError:  # not under dnf: byte-compiling, tests
    dnf = None
    _PluginBase = object

ECSSNAP = "/usr/bin/ecssnap"
PROTOCOL = 1

logger = logging.getLogger("dnf.plugin.ecssnap")

# dnf.transaction's per-package actions: the ones that put a package on
# the system or take one off, and the old halves of upgrades and the like,
# whose versions become "from".
_FORWARD = (
    ("PKG_INSTALL", "install"),
    ("PKG_UPGRADE", "upgrade"),
    ("PKG_DOWNGRADE", "downgrade"),
    ("PKG_REINSTALL", "reinstall"),
    ("PKG_OBSOLETE", "install"),
    ("PKG_REMOVE", "remove"),
    ("PKG_ERASE", "remove"),
    ("PKG_OBSOLETED", "remove"),
)
_REPLACED = ("PKG_UPGRADED", "PKG_DOWNGRADED", "PKG_REINSTALLED")


def _action_maps(module):
    forward, replaced = {}, set()
    for const, action in _FORWARD:
        value = getattr(module, const, None)
        if value is not None:
            forward.setdefault(value, action)
    for const in _REPLACED:
        value = getattr(module, const, None)
        if value is not None:
            replaced.add(value)
    return forward, replaced


def _package(action, pkg):
    entry = {"action": action, "name": pkg.name, "arch": getattr(pkg, "arch", "")}
    version = getattr(pkg, "evr", "")
    if action == "remove":
        entry["from"] = version
    else:
        entry["to"] = version
    return entry


def packages(transaction, module):
    """The transaction's packages as the hook's JSON entries."""
    forward, replaced = _action_maps(module)
    out, old = [], {}
    try:
        items = list(transaction)
    except TypeError:
        items = None
    if items is None or not all(hasattr(i, "action") and hasattr(i, "pkg") for i in items):
        # An older dnf: only the API's install and remove sets.
        for pkg in getattr(transaction, "install_set", ()):
            out.append(_package("install", pkg))
        for pkg in getattr(transaction, "remove_set", ()):
            out.append(_package("remove", pkg))
        return out
    for item in items:
        if item.action in replaced:
            old[item.pkg.name] = getattr(item.pkg, "evr", "")
        elif item.action in forward:
            out.append(_package(forward[item.action], item.pkg))
    for entry in out:
        if entry["action"] in ("upgrade", "downgrade", "reinstall") and entry["name"] in old:
            entry["from"] = old[entry["name"]]
    return out


def run_hook(binary, manager, payload):
    """Runs `binary hook manager` with payload as JSON on stdin; returns
    its exit code, or None when it could not run."""
    data = json.dumps(payload, sort_keys=True).encode("utf-8")
    try:
        proc = subprocess.Popen([binary, "hook", manager], stdin=subprocess.PIPE)
    except OSError as err:
        logger.warning("ecssnap: cannot run %s (%s); no snapshot before this transaction", binary, err)
        return None
    proc.communicate(data)
    return proc.returncode


class Ecssnap(_PluginBase):
    """Takes a cloud snapshot before every transaction."""

    name = "ecssnap"

    def __init__(self, base, cli):
        if dnf is not None:
            super(Ecssnap, self).__init__(base, cli)
        self.base = base
        self.cli = cli

    def pre_transaction(self):
        transaction = self.base.transaction
        if transaction is None:
            return
        if not os.access(ECSSNAP, os.X_OK):
            logger.warning("ecssnap: %s is missing; no snapshot before this transaction", ECSSNAP)
            return
        payload = {
            "version": PROTOCOL,
            "pid": os.getpid(),
            "argv": list(sys.argv),
            "packages": packages(transaction, dnf.transaction),
        }
        # --installroot changes another tree; ecssnap applies its chroot
        # policy to it (package_hooks.in_chroot), as to apt in a chroot.
        installroot = os.path.realpath(getattr(self.base.conf, "installroot", "/") or "/")
        if installroot != "/":
            payload["installroot"] = installroot
        if not payload["packages"]:
            return
        code = run_hook(ECSSNAP, "dnf", payload)
        if code:
            raise dnf.exceptions.Error(
                "ecssnap stopped the transaction: no snapshot was taken (see the ecssnap line above)")
