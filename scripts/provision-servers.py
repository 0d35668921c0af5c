#!/usr/bin/env python3
"""Provisioning and probes for scripts/test-servers.sh (not a test of the project).

Subcommands (each prints its result on stdout; an exception exits non-zero):
  free-ports N                          N distinct free TCP ports on 127.0.0.1, one a line
  s3-bucket ENDPOINT KEY SECRET BUCKET  creates BUCKET with a SigV4-signed request
  moto-provision ENDPOINT BUCKET        IAM user + policy + access key with moto's initial
                                        unauthenticated calls, then BUCKET with the new key;
                                        prints "KEY SECRET"; checks that auth is now enforced
  s3-check ENDPOINT KEY SECRET BUCKET   signed list of BUCKET, a put/get/delete round trip,
                                        and a wrong secret refused with 403
  nats-objstore URL BUCKET              creates the JetStream object store BUCKET
  nats-check URL BUCKET                 the object store BUCKET is listed; a put/get round trip
"""
import asyncio
import socket
import sys

REGION = "us-east-1"


def free_ports(count):
    # Hold every socket open until all are chosen, so that the ports are distinct.
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        for s in socks:
            print(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()


def s3_client(endpoint, key, secret):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}),
    )


def s3_bucket(endpoint, key, secret, bucket):
    s3_client(endpoint, key, secret).create_bucket(Bucket=bucket)
    print(f"bucket {bucket} created")


def moto_provision(endpoint, bucket):
    import boto3
    from botocore.exceptions import ClientError

    # The three calls moto lets through unauthenticated (INITIAL_NO_AUTH_ACTION_COUNT=3).
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION,
                       aws_access_key_id="provisioning", aws_secret_access_key="provisioning")
    iam.create_user(UserName="witchbolt-test")
    iam.put_user_policy(
        UserName="witchbolt-test",
        PolicyName="witchbolt-test-s3",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
    )
    created = iam.create_access_key(UserName="witchbolt-test")["AccessKey"]
    key, secret = created["AccessKeyId"], created["SecretAccessKey"]

    # From now on every request is authenticated: the bucket is made with the new key.
    s3_client(endpoint, key, secret).create_bucket(Bucket=bucket)

    # Prove that SigV4 is enforced: the same key with a wrong secret must be refused.
    try:
        s3_client(endpoint, key, secret[:-1] + ("A" if secret[-1] != "A" else "B")).list_objects_v2(Bucket=bucket)
    except ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] != 403:
            raise
    else:
        raise SystemExit("moto accepted a wrong secret: authentication is not enforced")
    print(key, secret)


def s3_check(endpoint, key, secret, bucket):
    from botocore.exceptions import ClientError

    s3 = s3_client(endpoint, key, secret)
    s3.list_objects_v2(Bucket=bucket)
    body = b"witchbolt-test-servers probe\n"
    s3.put_object(Bucket=bucket, Key="probe/check.txt", Body=body)
    got = s3.get_object(Bucket=bucket, Key="probe/check.txt")["Body"].read()
    s3.delete_object(Bucket=bucket, Key="probe/check.txt")
    if got != body:
        raise SystemExit(f"{endpoint}: read back {got!r}, wrote {body!r}")
    try:
        s3_client(endpoint, key, secret + "x").list_objects_v2(Bucket=bucket)
    except ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] != 403:
            raise
    else:
        raise SystemExit(f"{endpoint}: a wrong secret was accepted")
    print(f"{endpoint}: signed list, put/get/delete ok; wrong secret refused")


async def nats_objstore(url, bucket, check):
    import nats

    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        if not check:
            await js.create_object_store(bucket)
            print(f"object store {bucket} created")
            return
        names = [s.config.name async for s in _streams(js)]
        if f"OBJ_{bucket}" not in names:
            raise SystemExit(f"{url}: object store {bucket} not listed (streams: {names})")
        store = await js.object_store(bucket)
        await store.put("probe/check.txt", b"witchbolt-test-servers probe\n")
        got = await store.get("probe/check.txt")
        await store.delete("probe/check.txt")
        if got.data != b"witchbolt-test-servers probe\n":
            raise SystemExit(f"{url}: object store read back {got.data!r}")
        print(f"{url}: object store {bucket} listed, put/get/delete ok")
    finally:
        await nc.close()


async def _streams(js):
    # nats-py's streams_info lists every stream; an object store is the stream OBJ_<bucket>.
    for info in await js.streams_info():
        yield info


def main(argv):
    if not argv:
        raise SystemExit(__doc__)
    cmd, args = argv[0], argv[1:]
    if cmd == "free-ports" and len(args) == 1:
        free_ports(int(args[0]))
    elif cmd == "s3-bucket" and len(args) == 4:
        s3_bucket(*args)
    elif cmd == "moto-provision" and len(args) == 2:
        moto_provision(*args)
    elif cmd == "s3-check" and len(args) == 4:
        s3_check(*args)
    elif cmd == "nats-objstore" and len(args) == 2:
        asyncio.run(nats_objstore(args[0], args[1], check=False))
    elif cmd == "nats-check" and len(args) == 2:
        asyncio.run(nats_objstore(args[0], args[1], check=True))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
