"""Administration of the tests' local S3 server (moto), with boto3 from moto's environment.

    python s3_admin.py create-bucket BUCKET
    python s3_admin.py list BUCKET [PREFIX]      -> JSON: [{"key", "size"}, ...]
    python s3_admin.py lock BUCKET               -> JSON: {"key_id", "secret"}

Endpoint and keys come from AWS_ENDPOINT_URL / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
`lock` creates the bucket and an IAM user allowed to use it, then turns on moto's request
authentication: from then on only that user's key is accepted (the wrong-credentials test).
"""

import json
import os
import sys
import urllib.request

import boto3


def client(service, key_id=None, secret=None):
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        aws_access_key_id=key_id or os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret or os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
    )


def main():
    command, bucket, *rest = sys.argv[1:]
    if command == "create-bucket":
        client("s3").create_bucket(Bucket=bucket)
    elif command == "list":
        s3 = client("s3")
        out = []
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=rest[0] if rest else ""
        ):
            out += [{"key": o["Key"], "size": o["Size"]} for o in page.get("Contents", [])]
        print(json.dumps(out))
    elif command == "lock":
        iam = client("iam")
        iam.create_user(UserName="tgm-sync")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="tgm-sync", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="tgm-sync")["AccessKey"]
        client("s3").create_bucket(Bucket=bucket)
        request = urllib.request.Request(
            os.environ["AWS_ENDPOINT_URL"] + "/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(request, timeout=10).read()
        print(json.dumps({"key_id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
    else:
        sys.exit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
