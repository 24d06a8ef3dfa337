# drive.py dnf|yum PLUGIN_FILE ECSSNAP_BINARY [INSTALLROOT]
#
# Loads the ecssnap dnf or yum plugin the way dnf or yum would, with small
# stand-ins for the dnf and yum modules (only what the plugin touches),
# runs its pre-transaction hook on a fixed transaction (openssl upgraded,
# curl installed, telnet removed) with ECSSNAP_BINARY as ecssnap, and
# prints "go-on" or "abort: <message>".
from __future__ import print_function

import importlib.util
import sys
import types


def load(path):
    spec = importlib.util.spec_from_file_location("ecssnap_plugin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Pkg(object):
    def __init__(self, name, evr, arch="x86_64"):
        self.name, self.evr, self.arch = name, evr, arch
        self.version, self.release = evr.split(":")[-1].rsplit("-", 1)
        self.epoch = evr.split(":")[0] if ":" in evr else "0"


class Item(object):
    def __init__(self, action, pkg):
        self.action, self.pkg = action, pkg


def fake_dnf():
    dnf = types.ModuleType("dnf")
    exceptions = types.ModuleType("dnf.exceptions")
    transaction = types.ModuleType("dnf.transaction")

    class Error(Exception):
        pass

    class Plugin(object):
        def __init__(self, base, cli):
            pass

    exceptions.Error = Error
    # libdnf's TransactionItemAction values; PKG_ERASE is PKG_REMOVE.
    for i, name in enumerate(["PKG_INSTALL", "PKG_DOWNGRADE", "PKG_DOWNGRADED", "PKG_OBSOLETE", "PKG_OBSOLETED",
                              "PKG_UPGRADE", "PKG_UPGRADED", "PKG_REMOVE", "PKG_REINSTALL", "PKG_REINSTALLED"]):
        setattr(transaction, name, i + 1)
    transaction.PKG_ERASE = transaction.PKG_REMOVE
    dnf.Plugin, dnf.exceptions, dnf.transaction = Plugin, exceptions, transaction
    sys.modules.update({"dnf": dnf, "dnf.exceptions": exceptions, "dnf.transaction": transaction})
    return dnf


def fake_yum():
    yum = types.ModuleType("yum")
    plugins = types.ModuleType("yum.plugins")
    constants = types.ModuleType("yum.constants")

    class PluginYumExit(Exception):
        pass

    plugins.TYPE_CORE, plugins.PluginYumExit = 0, PluginYumExit
    # yum.constants' transaction member states.
    for name, value in [("TS_UPDATE", 10), ("TS_INSTALL", 20), ("TS_TRUEINSTALL", 30), ("TS_ERASE", 40),
                        ("TS_OBSOLETED", 50), ("TS_OBSOLETING", 60), ("TS_AVAILABLE", 70), ("TS_UPDATED", 90)]:
        setattr(constants, name, value)
    yum.plugins, yum.constants = plugins, constants
    sys.modules.update({"yum": yum, "yum.plugins": plugins, "yum.constants": constants})
    return yum


def main():
    manager, plugin_file, binary = sys.argv[1:4]
    installroot = sys.argv[4] if len(sys.argv) > 4 else "/"
    sys.argv = ["/usr/bin/" + manager, "-y", "upgrade", "openssl", "curl"]
    if manager == "dnf":
        dnf = fake_dnf()
        plugin = load(plugin_file)
        t = dnf.transaction
        items = [
            Item(t.PKG_UPGRADE, Pkg("openssl", "1:1.1.1k-12.al8")),
            Item(t.PKG_UPGRADED, Pkg("openssl", "1:1.1.1k-9.al8")),
            Item(t.PKG_INSTALL, Pkg("curl", "7.61.1-34.al8")),
            Item(t.PKG_REMOVE, Pkg("telnet", "1:0.17-76.al8")),
        ]
        base = types.SimpleNamespace(transaction=items, conf=types.SimpleNamespace(installroot=installroot))
        plugin.ECSSNAP = binary
        try:
            plugin.Ecssnap(base, None).pre_transaction()
        except dnf.exceptions.Error as err:
            print("abort: %s" % err)
            return
    else:
        yum = fake_yum()
        plugin = load(plugin_file)
        c = yum.constants

        class Member(object):
            def __init__(self, state, name, epoch, version, release):
                self.output_state, self.name, self.arch = state, name, "x86_64"
                self.epoch, self.version, self.release = epoch, version, release

        members = [
            Member(c.TS_UPDATE, "openssl", "1", "1.0.2k", "26.el7_9"),
            Member(c.TS_UPDATED, "openssl", "1", "1.0.2k", "25.el7_9"),
            Member(c.TS_INSTALL, "curl", "0", "7.29.0", "59.el7_9.2"),
            Member(c.TS_ERASE, "telnet", "1", "0.17", "66.el7"),
        ]

        class Conduit(object):
            def getTsInfo(self):
                return types.SimpleNamespace(getMembers=lambda: members)

            def getConf(self):
                return types.SimpleNamespace(installroot=installroot)

            def info(self, level, msg):
                print(msg, file=sys.stderr)

        plugin.ECSSNAP = binary
        try:
            plugin.pretrans_hook(Conduit())
        except yum.plugins.PluginYumExit as err:
            print("abort: %s" % err)
            return
    print("go-on")


if __name__ == "__main__":
    main()
