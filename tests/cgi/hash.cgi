#!/usr/bin/python3
# Reads the whole body and answers its length and sha256.
import hashlib, os, sys
data = sys.stdin.buffer.read()
sys.stdout.write("Content-Type: text/plain\r\n\r\n")
sys.stdout.write("len=%d\nsha256=%s\ncontent_length=%s\n" % (
    len(data), hashlib.sha256(data).hexdigest(), os.environ.get("CONTENT_LENGTH", "-")))
