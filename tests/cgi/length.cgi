#!/bin/sh
# Gives a Content-Length and writes more than it: the rest is cut.
printf 'Content-Type: text/plain\nContent-Length: 5\n\nhello world\n'
