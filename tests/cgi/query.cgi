#!/bin/sh
printf 'Content-Type: text/plain\n\n'
printf 'method=%s query=%s script=%s\n' "$REQUEST_METHOD" "$QUERY_STRING" "$SCRIPT_NAME"
