#!/bin/sh
# Lambda's exec wrapper (AWS_LAMBDA_EXEC_WRAPPER, set by the stack): Lambda runs it as
#   node-flags.sh /var/lang/bin/node <the runtime's flags> /var/runtime/index.mjs
# The runtime's bootstrap passes V8 heap sizes of its own on that command line
# (--max-semi-space-size=<memory/20> --max-old-space-size=<memory*0.9>), and flags on the command
# line override NODE_OPTIONS. This drops those two, so the sizes in NODE_OPTIONS apply, and runs the
# rest unchanged.
for arg do
  shift
  case "$arg" in
    --max-semi-space-size=* | --max-old-space-size=*) ;;
    *) set -- "$@" "$arg" ;;
  esac
done
exec "$@"
