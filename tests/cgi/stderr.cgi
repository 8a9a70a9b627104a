#!/bin/sh
echo "first line on stderr" >&2
printf 'evil\033[31m escape\n' >&2
printf 'Content-Type: text/plain\n\nok\n'
