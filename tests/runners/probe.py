#!/usr/bin/env python3
"""What a later script line sees, as the AWS CLI and SDKs resolve it (botocore's chain:
environment, profiles, web-identity files, the container endpoint): appends one JSON line
to $PROBE_OUT with the caller's ARN, the region as AWS CLI v2 and the current SDKs resolve
it (AWS_REGION, then AWS_DEFAULT_REGION and the profile, which is botocore's whole chain),
the access key ID (to find the STS answer that minted it) and AWS_PROFILE."""

import json
import os

import boto3

session = boto3.session.Session()
credentials = session.get_credentials()
seen = {
    "arn": session.client("sts", region_name=session.region_name or "us-east-1").get_caller_identity()["Arn"],
    "region": os.environ.get("AWS_REGION") or session.region_name,
    "access_key_id": credentials.get_frozen_credentials().access_key if credentials else None,
    "aws_profile": os.environ.get("AWS_PROFILE"),
}
with open(os.environ["PROBE_OUT"], "a") as out:
    out.write(json.dumps(seen) + "\n")
