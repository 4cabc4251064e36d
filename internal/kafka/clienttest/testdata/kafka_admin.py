"""kafka-python's KafkaAdminClient against one Kafka address, for the Go
test in this package: it prints one JSON document with what the client
got, and the test compares that with the HTTP API.

    kafka_admin.py ADDR create NAME:PARTITIONS:REPLICATION_FACTOR ...
    kafka_admin.py ADDR delete NAME ...
    kafka_admin.py ADDR describe-cluster

create and delete print {"NAME": null or the error's class name}: the
client raises on the first failed topic, so each topic is sent alone.
"""

import json
import sys

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError


def outcome(call):
    try:
        call()
    except KafkaError as e:
        return type(e).__name__
    return None


def main(argv):
    addr, cmd, args = argv[1], argv[2], argv[3:]
    admin = KafkaAdminClient(
        bootstrap_servers=addr,
        client_id="yakt-clienttest",
        request_timeout_ms=30000,
        api_version_auto_timeout_ms=10000,
    )
    try:
        if cmd == "create":
            out = {}
            for spec in args:
                name, partitions, rf = spec.split(":")
                topic = NewTopic(name=name, num_partitions=int(partitions), replication_factor=int(rf))
                out[name] = outcome(lambda: admin.create_topics([topic], timeout_ms=10000))
        elif cmd == "delete":
            out = {name: outcome(lambda: admin.delete_topics([name], timeout_ms=10000)) for name in args}
        elif cmd == "describe-cluster":
            out = admin.describe_cluster()
        else:
            raise SystemExit("unknown command " + cmd)
    finally:
        admin.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
