#!/bin/sh
# The signal masks the script starts with, and its directory.
printf 'Content-Type: text/plain\n\n'
grep -E '^(SigIgn|SigBlk)' /proc/$$/status
echo "Cwd: $(pwd)"
