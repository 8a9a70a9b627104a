#!/bin/sh
# Dies by a signal after its answer began: the client must see it cut off.
printf 'Content-Type: text/plain\n\npartial\n'
sleep 0.2
kill -SEGV $$
