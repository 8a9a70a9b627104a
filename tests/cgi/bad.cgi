#!/bin/sh
# No header block at all: 502.
printf 'Hello, this is not a header\n\nbody\n'
