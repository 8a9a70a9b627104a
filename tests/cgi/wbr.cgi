#!/usr/bin/python3
# Writes 1 MiB before it reads a byte of the body, then hashes the body.
import hashlib, sys
out = sys.stdout.buffer
out.write(b"Content-Type: application/octet-stream\r\n\r\n")
out.write(b"w" * (1 << 20))
out.flush()
data = sys.stdin.buffer.read()
out.write(("\nlen=%d sha256=%s\n" % (len(data), hashlib.sha256(data).hexdigest())).encode())
