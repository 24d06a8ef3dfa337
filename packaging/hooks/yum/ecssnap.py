# ecssnap yum plugin (yum 3: Alibaba Cloud Linux 2, EL7).
#
# Before yum changes anything, asks ecssnap for a cloud snapshot of this
# instance. pretrans_hook runs before the rpm transaction; raising
# PluginYumExit there stops yum with the message.
#
# The plugin runs `/usr/bin/ecssnap hook yum` and writes one JSON document
# on its stdin, the same protocol as the dnf plugin:
#   {"version": 1, "pid": <yum's pid>, "argv": [<yum's command line>],
#    "packages": [{"action": "install|upgrade|remove", "name": ...,
#                  "arch": ..., "from": ..., "to": ...}],
#    "installroot": <yum's --installroot, only when it is not />}
# ecssnap prints what it did on stderr, applies the hook policy
# (fail-closed or fail-open) and exits 0 to let yum go on. To skip the
# snapshot once: ECSSNAP_SKIP=1 yum update
#
# Installed as /usr/lib/yum-plugins/ecssnap.py, enabled by
# /etc/yum/pluginconf.d/ecssnap.conf. Python 2.6+ (yum's) and 3.

from __future__ import absolute_import, print_function

import json
import os
import subprocess
import sys

try:
    from yum.plugins import TYPE_CORE, PluginYumExit
    from yum import constants
except ImportError:  # not under yum: byte-compiling, tests
    TYPE_CORE, constants = None, None

    class PluginYumExit(Exception):
        """Stands in for yum's PluginYumExit outside yum."""

requires_api_version = "2.3"
plugin_type = (TYPE_CORE,)

ECSSNAP = "/usr/bin/ecssnap"
PROTOCOL = 1

# yum.constants' transaction member states: what each does to a package.
_STATES = (
    ("TS_INSTALL", "install"),
    ("TS_TRUEINSTALL", "install"),
    ("TS_OBSOLETING", "install"),
    ("TS_UPDATE", "upgrade"),
    ("TS_ERASE", "remove"),
    ("TS_OBSOLETED", "remove"),
)


def _evr(member):
    version = "%s-%s" % (getattr(member, "version", ""), getattr(member, "release", ""))
    epoch = getattr(member, "epoch", None)
    if epoch not in (None, "", "0", 0):
        version = "%s:%s" % (epoch, version)
    return version


def packages(ts_info, consts):
    """The transaction members as the hook's JSON entries; the old halves
    of updates (TS_UPDATED) give the upgrades their "from"."""
    actions = {}
    for const, action in _STATES:
        value = getattr(consts, const, None)
        if value is not None:
            actions[value] = action
    updated = getattr(consts, "TS_UPDATED", None)
    out, old = [], {}
    for member in ts_info.getMembers():
        state = getattr(member, "output_state", None)
        if updated is not None and state == updated:
            old[member.name] = _evr(member)
            continue
        action = actions.get(state)
        if action is None:
            continue
        entry = {"action": action, "name": member.name, "arch": getattr(member, "arch", "")}
        entry["from" if action == "remove" else "to"] = _evr(member)
        out.append(entry)
    for entry in out:
        if entry["action"] == "upgrade" and entry["name"] in old:
            entry["from"] = old[entry["name"]]
    return out


def run_hook(binary, manager, payload, warn):
    """Runs `binary hook manager` with payload as JSON on stdin; returns
    its exit code, or None when it could not run."""
    data = json.dumps(payload, sort_keys=True).encode("utf-8")
    try:
        proc = subprocess.Popen([binary, "hook", manager], stdin=subprocess.PIPE)
    except OSError as err:
        warn("ecssnap: cannot run %s (%s); no snapshot before this transaction" % (binary, err))
        return None
    proc.communicate(data)
    return proc.returncode


def pretrans_hook(conduit):
    """Takes a cloud snapshot before the transaction, or stops it."""
    def warn(msg):
        conduit.info(2, msg)

    if not os.access(ECSSNAP, os.X_OK):
        warn("ecssnap: %s is missing; no snapshot before this transaction" % ECSSNAP)
        return
    payload = {
        "version": PROTOCOL,
        "pid": os.getpid(),
        "argv": list(sys.argv),
        "packages": packages(conduit.getTsInfo(), constants),
    }
    # --installroot changes another tree; ecssnap applies its chroot policy
    # to it (package_hooks.in_chroot), as to apt in a chroot.
    installroot = os.path.realpath(getattr(conduit.getConf(), "installroot", "/") or "/")
    if installroot != "/":
        payload["installroot"] = installroot
    if not payload["packages"]:
        return
    code = run_hook(ECSSNAP, "yum", payload, warn)
    if code:
        raise PluginYumExit("ecssnap stopped the transaction: no snapshot was taken (see the ecssnap line above)")
