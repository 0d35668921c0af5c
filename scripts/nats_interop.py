#!/usr/bin/env python3
# Licensed under the Apache License, Version 2.0.
#
# The other side of the NATS replica's interop tests: nats-py's object store, driven from the
# command line, so the Swift tests can check that each side reads what the other wrote.
#
#   nats_interop.py create SERVER BUCKET [--token T]   create the object store bucket
#   nats_interop.py create-nodirect SERVER BUCKET      create it as older clients did: no direct gets
#   nats_interop.py drop   SERVER BUCKET               delete the bucket (its stream)
#   nats_interop.py put    SERVER BUCKET NAME FILE     put FILE as NAME (128 KiB chunks)
#   nats_interop.py get    SERVER BUCKET NAME FILE     get NAME into FILE (nats-py verifies the digest)
#   nats_interop.py list   SERVER BUCKET PREFIX        list live objects whose name starts with PREFIX
#   nats_interop.py delete SERVER BUCKET NAME          delete NAME
#
# Every command prints one JSON object on stdout; errors go to stderr with exit status 1.

import argparse
import asyncio
import hashlib
import base64
import json
import sys

import nats
from nats.js import api
from nats.js.errors import NotFoundError


async def run(args):
    options = {"token": args.token} if args.token else {}
    nc = await nats.connect(args.server, **options)
    try:
        js = nc.jetstream()
        if args.command == "create":
            await js.create_object_store(args.bucket)
            return {"bucket": args.bucket}
        if args.command == "create-nodirect":
            await js.add_stream(
                name="OBJ_" + args.bucket,
                subjects=["$O." + args.bucket + ".C.>", "$O." + args.bucket + ".M.>"],
                allow_rollup_hdrs=True, allow_direct=False, discard=api.DiscardPolicy.NEW)
            return {"bucket": args.bucket}
        if args.command == "drop":
            await js.delete_stream("OBJ_" + args.bucket)
            return {"dropped": args.bucket}
        store = await js.object_store(args.bucket)
        if args.command == "put":
            with open(args.file, "rb") as f:
                data = f.read()
            info = await store.put(args.name, data)
            return {"name": info.name, "size": info.size, "chunks": info.chunks, "digest": info.digest, "nuid": info.nuid}
        if args.command == "get":
            result = await store.get(args.name)
            with open(args.file, "wb") as f:
                f.write(result.data)
            digest = "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(result.data).digest()).decode()
            info = result.info
            return {"name": info.name, "size": info.size, "chunks": info.chunks, "digest": info.digest,
                    "computed_digest": digest, "bytes": len(result.data)}
        if args.command == "list":
            try:
                entries = await store.list(ignore_deletes=True)
            except NotFoundError:
                entries = []
            objects = [{"name": e.name, "size": e.size, "chunks": e.chunks, "digest": e.digest}
                       for e in entries if e.name.startswith(args.prefix) and not e.deleted]
            return {"objects": sorted(objects, key=lambda o: o["name"])}
        if args.command == "delete":
            await store.delete(args.name)
            return {"deleted": args.name}
        raise ValueError("unknown command " + args.command)
    finally:
        await nc.close()


def main():
    parser = argparse.ArgumentParser(description="nats-py object store interop helper")
    parser.add_argument("command", choices=["create", "create-nodirect", "drop", "put", "get", "list", "delete"])
    parser.add_argument("server")
    parser.add_argument("bucket")
    parser.add_argument("name", nargs="?", default="")
    parser.add_argument("file", nargs="?", default="")
    parser.add_argument("--token", default=None)
    args = parser.parse_args()
    args.prefix = args.name
    try:
        # A nats-py listing waits for a zero pending count that a busy server may not report.
        print(json.dumps(asyncio.run(asyncio.wait_for(run(args), timeout=60))))
    except Exception as error:  # reported to the Swift test as a failure with this text
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
