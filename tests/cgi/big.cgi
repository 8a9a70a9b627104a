#!/bin/sh
# 20 MiB without a Content-Length: chunked on HTTP/1.1.
printf 'Content-Type: application/octet-stream\n\n'
head -c 20971520 /dev/zero
