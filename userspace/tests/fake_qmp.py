#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# A fake QEMU QMP server for the host tests of "kmigctl qemu": it serves one
# connection on a unix socket and misbehaves as the scenario says, so that
# every malformed or unsuitable answer has a test without a real QEMU.
#
# usage: fake_qmp.py SOCKET SCENARIO [MEM_PATH]
import json
import os
import socket
import sys

path, scenario = sys.argv[1], sys.argv[2]
mem_path = sys.argv[3] if len(sys.argv) > 3 else "/nonexistent"

GREETING = {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}},
                    "capabilities": []}}


def backends():
    kind = {"memfd": "memory-backend-memfd"}.get(scenario, "memory-backend-file")
    if scenario == "nobackend":
        return []
    return [{"name": "ram0", "type": "child<%s>" % kind},
            {"name": "pc.ram", "type": "child<memory-region>"}]


def answer(req):
    cmd = req.get("execute")
    args = req.get("arguments", {})
    if cmd == "qmp_capabilities":
        if scenario == "capserror":
            return {"error": {"class": "GenericError", "desc": "no capabilities for you"}}
        return {"return": {}}
    if cmd == "qom-list":
        return {"return": backends()}
    if cmd == "qom-get":
        prop = args.get("property")
        if prop == "share":
            return {"return": scenario != "noshare"}
        if prop == "size":
            return {"return": 134217728}
        if prop == "mem-path":
            return {"return": mem_path}
        return {"error": {"class": "GenericError", "desc": "no property " + str(prop)}}
    if cmd == "query-memory-size-summary":
        return {"return": {"base-memory": 134217728, "plugged-memory": 0}}
    if cmd == "query-migrate":
        return {"return": {}}
    if cmd == "query-status":
        return {"return": {"status": "running", "running": True}}
    return {"error": {"class": "CommandNotFound", "desc": "The command %s has not been found" % cmd}}


def main():
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(20)
    conn, _ = srv.accept()
    f = conn.makefile("rwb", buffering=0)

    def send(obj):
        f.write(json.dumps(obj).encode() + b"\r\n")

    if scenario == "close":
        conn.close()
        return
    if scenario == "nogreeting":
        send({"hello": "world"})
    elif scenario == "garbage":
        f.write(b"this is not JSON\r\n")
    elif scenario == "hugeline":
        chunk = b"[" * 65536
        try:
            for _ in range(40):
                f.write(chunk)
        except OSError:
            pass
        return
    else:
        send(GREETING)
    for line in f:
        req = json.loads(line)
        if scenario == "events":
            # events before every answer must be skipped
            send({"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 2}})
        if scenario == "closemid" and req.get("execute") == "qom-list":
            conn.close()
            return
        send(answer(req))


main()
