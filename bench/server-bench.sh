#!/bin/sh
# Columba's server against Dovecot 2.3, one command: builds the release
# `columba` binary (the server under test) and the load generator, then runs
# the benchmark. Arguments go to the benchmark, e.g.
#   bench/server-bench.sh --duration 4 --clients 1,10,50 --idle 200
# Needs Dovecot 2.3 installed (dovecot, doveadm); run as root or as a user
# Dovecot can run as. CARGO_TARGET_DIR is honoured.
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p columba
cargo build --release -p columba-bench --example server_bench
target="${CARGO_TARGET_DIR:-target}"
exec "$target/release/examples/server_bench" "$@"
