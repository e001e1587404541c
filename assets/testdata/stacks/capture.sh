#!/bin/sh
# Captures the real stack traces of assets/test/stack.test.js: each program
# here throws and prints its exception the way its runtime's OpenTelemetry
# SDK fills exception.stacktrace; <runtime>.txt is a header naming the
# program and runtime, a line "---", then the trace exactly as printed.
# Needs python3, node, java, go, php-cli and ruby (apt-get install -y
# php-cli ruby). .NET is not installable here: dotnet.txt is written by hand.
# Run from anywhere; paths in the traces are this checkout's.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../../.." && pwd)
write() { # name, program, version, command...
	name=$1 program=$2 version=$3
	shift 3
	{
		echo "# $program, run by $version: $*"
		echo "---"
		(cd "$dir" && "$@")
	} > "$dir/$name.txt"
}
write python python.py "$(python3 --version)" python3 "$dir/python.py"
write node 'node.mjs and node-orders.cjs' "Node.js $(node --version)" node "$dir/node.mjs"
write java Orders.java "$(java -version 2>&1 | head -1)" java "$dir/Orders.java"
write go go.go "$(go version)" sh -c "cd '$root' && go run ./assets/testdata/stacks/go.go"
write ruby ruby.rb "$(ruby --version)" ruby "$dir/ruby.rb"
write php php.php "$(php --version | head -1)" php "$dir/php.php"
